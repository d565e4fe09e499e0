#!/usr/bin/env bash
# The benchmark: builds what it needs (the library, the harness, aws-sdk-connect in
# bench/competitor — about 6 minutes the first time), installs what is missing (nginx-light and
# libcurl4-openssl-dev with apt-get, awscrt and boto3 into
# bench/.venv), starts nginx on 127.0.0.1 (plain and TLS with a generated test CA), runs every
# client interleaved on both, counts round trips through a delay proxy, times the cold start,
# sizes the library by crate, prints the table, writes bench/results/latest.json and
# docs/performance.md (with docs/latency.svg).
# Options (bench/run.py): --rounds N, --calls N, --py-calls N, --crt-calls N, --boto-calls N,
# --soak N, --one-way-ms MS, --skip-competitor, --skip-size.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || missing+=(nginx-light)
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || missing+=(libcurl4-openssl-dev)
command -v openssl >/dev/null || missing+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >&2 \
    || { echo "could not install ${missing[*]}: run apt-get install ${missing[*]}" >&2; exit 1; }
fi
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import awscrt, boto3' 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet awscrt boto3 >&2
fi
exec python3 bench/run.py "$@"
