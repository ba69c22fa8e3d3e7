#!/usr/bin/env bash
# Benchmarks: installs what they need (wrk, nginx, sqlite3 from Debian), builds the release
# binary, runs scripts/bench.py and writes BENCHMARKS.md. Loopback only; takes ~10 minutes.
# `scripts/bench.sh --only auto,limited,latency` runs some groups and appends them as a dated section;
# `--only faults` is scripts/bench_faults.py (rate control behind nginx with the mock's fault mix).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in wrk nginx sqlite3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq wrk nginx-light sqlite3 >/dev/null
fi
cargo build --release --locked --bins --example http_floor
python3 scripts/bench.py "$@"
