#!/usr/bin/env bash
# Checks the dependency graph against deny.toml: licences, banned or duplicate crates, sources.
# Not part of CI; run it when dependencies change. Needs cargo-deny
# (`cargo install --locked cargo-deny`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "cargo-deny is not installed: cargo install --locked cargo-deny" >&2
  exit 2
fi
exec cargo deny check licenses bans sources
