#!/usr/bin/env bash
# Renders the attack report's HTML page in headless Chromium and writes a PNG, to look at the
# chart (count bars, the attack share line on its own axis, its 95% interval band) by eye, and
# prints the share line's series from the page's SVG. Not part of `cargo test`.
#
# Usage: scripts/chart_screenshot.sh [DB] [OUT.png] [report flags...]
#   DB defaults to a fresh demo database (liveaudit demo --keep-db), OUT to attacks.png.
# Needs chromium (Debian: apt-get install -y chromium); runs it with --no-sandbox (as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/liveaudit"
[ -x "$bin" ] || cargo build --release --manifest-path "$root/Cargo.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=${1:-}
if [ -z "$db" ]; then
  db="$work/demo.db"
  "$bin" demo --keep-db "$db" >/dev/null 2>&1
fi
out=${2:-attacks.png}
shift $(( $# > 2 ? 2 : $# ))
"$bin" --db "$db" report attacks "$@" -o "$work/attacks.html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
  --window-size=1200,1000 --screenshot="$out" "file://$work/attacks.html" 2>/dev/null
echo "screenshot: $out"
echo "share line (x,y in SVG units, one point per dated period):"
grep -o '<polyline class="share" points="[^"]*"' "$work/attacks.html" | cut -d'"' -f4 | tr ' ' '\n'
echo "shares (data-share of each point):"
grep -o 'data-share="[^"]*"' "$work/attacks.html" | cut -d'"' -f2 | tr '\n' ' '; echo
