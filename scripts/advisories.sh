#!/usr/bin/env bash
# Lists RustSec advisories against every Cargo.lock of the repository (the library and
# emulator, fuzz/, bench/). Needs cargo-audit (`cargo install --locked cargo-audit`) and
# network access to fetch the advisory database, so it is not part of the test command.
# Exit status: 0 when no advisory applies, 1 when one does (cargo audit's own convention).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-audit >/dev/null || {
  echo "cargo-audit is missing: cargo install --locked cargo-audit" >&2
  exit 2
}
status=0
for lock in Cargo.lock fuzz/Cargo.lock bench/Cargo.lock; do
  [ -f "$lock" ] || continue
  echo "== $lock"
  cargo audit --file "$lock" "$@" || status=1
done
exit "$status"
