#!/usr/bin/env bash
# Checks the dependency graph against deny.toml: known vulnerabilities (RustSec), licences,
# banned or duplicate crates, sources. Not part of CI; run it when dependencies change. Needs
# cargo-deny (`cargo install --locked cargo-deny`).
#
# Offline: clone the advisory database elsewhere, then point LIVEAUDIT_ADVISORY_DB at a folder
# holding it as `advisory-db-3157b0e258782691` (the name cargo-deny gives the default URL):
#   LIVEAUDIT_ADVISORY_DB=/tmp/advdb scripts/deny.sh --offline
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "cargo-deny is not installed: cargo install --locked cargo-deny" >&2
  exit 2
fi
offline=()
if [ "${1:-}" = --offline ]; then
  cargo fetch --locked -q   # every platform's crates, so metadata resolves without the network
  offline=(--offline)
fi
exec cargo deny "${offline[@]}" check advisories licenses bans sources
