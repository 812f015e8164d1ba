#!/usr/bin/env bash
# bench/smoke.sh BIN_DIR — runs every benchmark binary once on a tiny store (300 entities,
# 3,000 records) so that CI notices when a benchmark stops running or returns wrong answers.
# Checks exit codes and that JSON came out; never looks at a figure. Registered as the ctest
# `bench_smoke`. redis-server and node are optional here.
set -euo pipefail
bin=${1:?usage: bench/smoke.sh BIN_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cx_bench_smoke.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/chengxin" gen --db "$tmp/store" --entities 300 --records 3000 --seed 7 --quiet
"$bin/bench_query" --db "$tmp/store" --iters 2000 --budget-ms 100 --pool 500 --json "$tmp/q.json"
grep -q '"op":"sqlite_check"' "$tmp/q.json"
grep -q '"op":"agg_scan"' "$tmp/q.json"
grep -q '"op":"scorecard_province"' "$tmp/q.json"
grep -q '"op":"sqlite_scorecard_province"' "$tmp/q.json"
"$bin/bench_query" --db "$tmp/store" --export-csv "$tmp/rows.csv" >/dev/null
[ "$(wc -l < "$tmp/rows.csv")" -eq 3001 ]
"$bin/bench_search" --db "$tmp/store" --queries 20 --iters 1 --size --tmp "$tmp" --json "$tmp/s.json" >/dev/null
grep -q '"fts5_6"' "$tmp/s.json"
grep -q '"bytes_per_entity"' "$tmp/s.json"

printf 'smoke-token-0123456789 approval smoke\n' > "$tmp/tokens"
chmod 600 "$tmp/tokens"
port=$("$bin/bench_load" --free-port)
hport=$("$bin/bench_load" --free-port)
"$bin/chengxind" --db "$tmp/store" --listen "127.0.0.1:$port" --http "127.0.0.1:$hport" \
  --tokens "$tmp/tokens" --threads 1 2> "$tmp/chengxind.log" &
pids+=($!)
# "http listening on ..." comes first: wait for the msgpack door's "listening on ..."
up() { grep -v 'http listening' "$tmp/chengxind.log" | grep -q listening; }
for _ in $(seq 1 100); do up && break; sleep 0.1; done
up
common=(--db "$tmp/store" --port "$port" --token smoke-token-0123456789 --as-of 2026-01-01 --conns 4
        --duration 0.3 --warmup 0.1)
"$bin/bench_load" "${common[@]}" --depth 1 --json "$tmp/l1.json"
"$bin/bench_load" "${common[@]}" --depth 8 --batch 10
"$bin/bench_load" "${common[@]}" --depth 2 --mix check=5,entity=3,records=2
grep -q '"proto":"cx"' "$tmp/l1.json"
# the HTTP door (bench/http.sh): keep-alive POST /v1/check, one code and batches
"$bin/bench_load" "${common[@]}" --port "$hport" --proto http --depth 1 --json "$tmp/h1.json"
"$bin/bench_load" "${common[@]}" --port "$hport" --proto http --depth 2 --batch 10
grep -q '"door":"http"' "$tmp/h1.json"
# GETs of the public site and the API (bench/site.sh): 200s, and 404s for codes the public cannot see
for path in '/v1/entities/{code}' '/entity/{code}' '/search?q={name2}' '/v1/search?q={name2}'; do
  "$bin/bench_load" "${common[@]}" --port "$hport" --proto http --http-path "$path" --depth 1 --json "$tmp/g.json"
  grep -q '"path":"' "$tmp/g.json"
done
"$bin/bench_load" "${common[@]}" --port "$hport" --proto http --http-path '/entity/{code}' --visible-only
# the abuse mix (bench/abuse.sh), a moment of each kind, against the same server
"$bin/bench_abuse" --make-heavy-csv "$tmp/heavy.csv" --records 50 > "$tmp/heavy.code"
"$bin/bench_abuse" --port "$port" --code "$(cat "$tmp/heavy.code")" --duration 0.5 --nonreaders 4 \
  --heavy 2 --pipeliners 2 --slow 4 --half 4 --json "$tmp/abuse.json"
grep -q '"bench":"abuse"' "$tmp/abuse.json"

if command -v redis-server >/dev/null; then
  rport=$("$bin/bench_load" --free-port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "$tmp/redis.log" &
  pids+=($!)
  for _ in $(seq 1 50); do
    "$bin/bench_load" --redis-load --db "$tmp/store" --port "$rport" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$bin/bench_load" --db "$tmp/store" --port "$rport" --proto resp --conns 4 --depth 4 \
    --duration 0.3 --warmup 0.1
fi
echo "bench smoke: ok"
