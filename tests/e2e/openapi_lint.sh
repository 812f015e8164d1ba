#!/usr/bin/env bash
# The OpenAPI document chengxind serves (/v1/openapi.json, generated from the op table), linted
# with Redocly's CLI (npm @redocly/cli, installed once into the build directory). Fails on any
# error of the recommended ruleset; warnings are printed.
#   CX_BIN_DIR=build/bin tests/e2e/openapi_lint.sh
set -euo pipefail
[ -n "${CX_TRACE:-}" ] && set -x
bin=${CX_BIN_DIR:?CX_BIN_DIR must name the build bin directory}
npmdir=${CX_NPM_DIR:-$bin/../npm}
work=$(mktemp -d)
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
"$bin/chengxin" init --db "$work/db" >/dev/null 2>&1 || "$bin/chengxin" gen --db "$work/db" --entities 10 --records 10 --seed 1 --quiet
"$bin/chengxind" --db "$work/db" --listen 127.0.0.1:0 --http 127.0.0.1:0 2>"$work/log" &
pid=$!
port=
for _ in $(seq 1 500); do
  port=$(grep -o 'http listening on 127.0.0.1:[0-9]*' "$work/log" | head -1 | sed 's/.*://' || true)
  [ -n "$port" ] && grep -q "chengxind: listening on" "$work/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
  sleep 0.02
done
[ -n "$port" ] || { echo "chengxind did not start" >&2; cat "$work/log" >&2; exit 1; }
curl -sf "http://127.0.0.1:$port/v1/openapi.json" -o "$work/openapi.json"
if [ ! -x "$npmdir/node_modules/.bin/redocly" ]; then
  mkdir -p "$npmdir"
  # Redocly CLI 2 wants Node 20 or later; Debian 12's own nodejs is 18, which 1.34 supports
  major=$(node -p 'process.versions.node.split(".")[0]')
  ver=2.77.0
  [ "$major" -lt 20 ] && ver=1.34.20
  (cd "$npmdir" && npm install --no-audit --no-fund --loglevel=error "@redocly/cli@$ver" >/dev/null)
fi
"$npmdir/node_modules/.bin/redocly" lint "$work/openapi.json"
