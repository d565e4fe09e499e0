#!/usr/bin/env bash
# The benchmark: builds what it needs (the library, the harness, aws-sdk-connect in
# bench/competitor — about 6 minutes the first time), starts nginx on 127.0.0.1 (installing
# it with apt-get when missing; the emulator otherwise), runs every client interleaved and
# prints the table; JSON goes to bench/results/latest.json.
# Options (bench/run.py): --rounds N, --calls N, --py-calls N, --boto-calls N, --emulator,
# --skip-competitor.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light; } >&2 \
    || echo "nginx could not be installed: the emulator will serve" >&2
fi
python3 -c 'import boto3' 2>/dev/null || python3 -m pip install --quiet boto3
exec python3 bench/run.py "$@"
