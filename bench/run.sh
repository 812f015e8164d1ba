#!/usr/bin/env bash
# bench/run.sh [small|medium|large] — every chengxin benchmark, with its baselines, in one run.
#
#   small   10k entities / 100k records   (< 2 minutes; CI smoke test)
#   medium  1M entities / 10M records     (< 20 minutes; the figure the issues judge)
#   large   5M entities / 50M records
#
# Builds Release into build-release/ (only the targets it needs), generates the stores from a
# fixed seed under $CX_BENCH_DATA (default /tmp/cx_bench_data; never committed), then runs:
#   1. import speed: `chengxin gen --db` (records/s, store bytes per record) and CSV import;
#   2. bench_query: the query core vs raw mdb_get (floor) and SQLite (same rows, same check),
#      plus DuckDB (npm @duckdb/node-api) on the aggregates when it installs;
#   3. scaling: check latency at each store size;
#   4. bench_load: chengxind vs redis-server (GET of the same summary bytes), 50 connections,
#      pipelining depth 1, 4, 16, 64.
# Writes bench/results/<date>-<size>.json (machine, versions, every figure), the PNG plots
# bench/results/<size>-*.png, and regenerates the <size> section of docs/benchmarks.md.
# A benchmark that fails to run makes the script exit non-zero; no figure is ever asserted.
#
# Environment: CX_BENCH_DATA (data dir), CX_BENCH_KEEP=1 (keep the generated stores; by default
# they are deleted at the end), CX_BENCH_REUSE=1 (reuse stores kept from an earlier run with the
# same parameters: import figures then come from that run), CX_BENCH_SEED (42),
# CX_BENCH_NO_DUCKDB=1 (skip the DuckDB baseline), CX_BENCH_SERVER_THREADS (chengxind worker loops; default nproc),
# CX_BENCH_NO_BUILD=1 (use build-release/ as it is), CX_BENCH_BIN=DIR (take the four binaries
# from DIR, no build), CX_BENCH_NO_DOCS=1 (do not touch docs/).
set -euo pipefail

size=${1:-small}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-release
bin=${CX_BENCH_BIN:-$build/bin}
seed=${CX_BENCH_SEED:-42}
data=${CX_BENCH_DATA:-/tmp/cx_bench_data}
date_utc=$(date -u +%Y-%m-%d)
results=$root/bench/results
work=$(mktemp -d /tmp/cx_bench_run.XXXXXX)

case $size in
  small)  ent=10000   rec=100000   scale="1000:10000 10000:100000"
          iters=50000 budget=1500 ldur=2 lwarm=0.5 csv_ent=10000 csv_rec=100000 ;;
  medium) ent=1000000 rec=10000000 scale="10000:100000 100000:1000000 1000000:10000000"
          iters=300000 budget=4000 ldur=8 lwarm=2 csv_ent=100000 csv_rec=1000000 ;;
  large)  ent=5000000 rec=50000000 scale="100000:1000000 1000000:10000000 5000000:50000000"
          iters=300000 budget=4000 ldur=10 lwarm=2 csv_ent=1000000 csv_rec=10000000 ;;
  *) echo "usage: bench/run.sh [small|medium|large]" >&2; exit 2 ;;
esac

say() { printf '== %s\n' "$*" >&2; }
pids=()
failures=()
cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  # the generated stores go too (they are GBs at medium), unless asked to keep them
  if [ "${CX_BENCH_KEEP:-0}" != 1 ] && [ "${CX_BENCH_REUSE:-0}" != 1 ] && [ -f "$work/generated" ]; then
    xargs -r rm -rf < "$work/generated"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
command -v jq >/dev/null || { echo "bench/run.sh needs jq (apt-get install jq)" >&2; exit 1; }
t_run0=$(date +%s)

# ------------------------------------------------------------------ build
if [ "${CX_BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${CX_BENCH_BIN:-}" ]; then
  say "build Release into $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target chengxin chengxind bench_query bench_load >/dev/null
fi
for b in chengxin chengxind bench_query bench_load; do
  [ -x "$bin/$b" ] || { echo "bench/run.sh: $bin/$b is missing" >&2; exit 1; }
done

# ------------------------------------------------------------------ machine
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
jq -n --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
  --arg cores "$(nproc)" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  --arg kernel "$(uname -r)" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
  --arg load "$load_before" \
  '{cpu: $cpu, cores: ($cores|tonumber), memory: $mem, kernel: $kernel, os: $os, load_before: $load}' \
  > "$work/machine.json"
ver() { pkg-config --modversion "$1" 2>/dev/null || echo unknown; }
jq -n --arg lmdb "$(ver lmdb)" --arg libuv "$(ver libuv)" --arg msgpack "$(ver msgpack)" \
  --arg sqlite "$(ver sqlite3)" \
  --arg redis "$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')" \
  --arg cc "$(cc --version | head -1)" \
  --arg commit "$("$bin/chengxin" --version 2>/dev/null | sed -n 's/^commit: //p' | grep . || echo "unknown (worktree $(git -C "$root" rev-parse --short HEAD 2>/dev/null))")" \
  '{lmdb: $lmdb, libuv: $libuv, msgpack: $msgpack, sqlite: $sqlite, redis: $redis, cc: $cc, commit: $commit}' \
  > "$work/versions.json"

# ------------------------------------------------------------------ stores
# gen_store ENT REC -> prints the store dir; times the generation into its gen.json stamp.
gen_store() {
  local e=$1 r=$2 dir="$data/e$1-r$2-s$seed"
  if [ "${CX_BENCH_REUSE:-0}" = 1 ] && [ -s "$dir/gen.json" ] && [ -d "$dir/store" ]; then
    say "reusing $dir/store" ; echo "$dir"; return 0
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$dir" >> "$work/generated"
  say "chengxin gen --db ($e entities, $r records, seed $seed)"
  local t0 t1
  t0=$(date +%s.%N)
  "$bin/chengxin" gen --db "$dir/store" --entities "$e" --records "$r" --seed "$seed" \
    > "$dir/gen.log" 2>&1 || { cat "$dir/gen.log" >&2; echo "bench/run.sh: gen failed" >&2; return 1; }
  t1=$(date +%s.%N)
  local bytes
  bytes=$(du -s -B1 "$dir/store" | cut -f1)   # blocks in use (the map file is sparse)
  jq -n --argjson e "$e" --argjson r "$r" --argjson s "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" \
    --argjson bytes "$bytes" --arg date "$date_utc" \
    '{what: "gen --db", entities: $e, records: $r, seconds: $s, records_per_s: ($r / $s),
      store_bytes: $bytes, bytes_per_record: ($bytes / $r), date: $date}' > "$dir/gen.json"
  echo "$dir"
}

main_dir=$(gen_store "$ent" "$rec")
store=$main_dir/store
jq . "$main_dir/gen.json" >&2

# CSV import: the same generator writing CSV, then `chengxin import` into a fresh store.
say "CSV import ($csv_ent entities, $csv_rec records)"
csv=$work/import.csv
"$bin/chengxin" gen --out "$csv" --entities "$csv_ent" --records "$csv_rec" --seed "$seed" \
  > "$work/gencsv.log" 2>&1 || { cat "$work/gencsv.log" >&2; exit 1; }
csv_bytes=$(stat -c %s "$csv")
t0=$(date +%s.%N)
if { "$bin/chengxin" init --db "$work/imported" && "$bin/chengxin" import --db "$work/imported" "$csv"; } \
     > "$work/import.log" 2>&1; then
  t1=$(date +%s.%N)
  imp_bytes=$(du -s -B1 "$work/imported" | cut -f1)
  jq -n --argjson e "$csv_ent" --argjson r "$csv_rec" --argjson s "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" \
  --argjson csvb "$csv_bytes" --argjson bytes "$imp_bytes" \
  '{what: "import csv", entities: $e, records: $r, seconds: $s, records_per_s: ($r / $s),
    csv_bytes: $csvb, store_bytes: $bytes, bytes_per_record: ($bytes / $r)}' > "$work/import.json"
else
  # keep going: the other benchmarks still run, and the script exits non-zero at the end
  cat "$work/import.log" >&2
  echo "bench/run.sh: FAILED: chengxin import" >&2
  failures+=("import")
  jq -n --argjson e "$csv_ent" --argjson r "$csv_rec" \
    '{what: "import csv", entities: $e, records: $r, error: "import failed"}' > "$work/import.json"
fi
rm -rf "$work/imported" "$csv"
jq . "$work/import.json" >&2

# ------------------------------------------------------------------ query core
say "bench_query on $store"
"$bin/bench_query" --db "$store" --seed "$seed" --iters "$iters" --budget-ms "$budget" \
  --sqlite "$work/sqlite.db" --json "$work/query.json" --label "$size" \
  --scorecard-json "$work/scorecards.json"
rm -f "$work/sqlite.db"
as_of=$(jq -r .as_of "$work/query.json")

# ------------------------------------------------------------------ DuckDB (optional baseline)
# The aggregates' rows exported to CSV, loaded into DuckDB (npm @duckdb/node-api), the same two
# aggregate specs; results must match chengxin's. Skipped (not failed) when node or the npm
# package is not available: it is the one optional baseline.
echo '{"skipped": "node/npm or @duckdb/node-api not available"}' > "$work/duckdb.json"
if [ "${CX_BENCH_NO_DUCKDB:-0}" != 1 ] && command -v node >/dev/null && command -v npm >/dev/null &&
   { [ -d "$root/bench/duckdb/node_modules/@duckdb/node-api" ] ||
     (cd "$root/bench/duckdb" && npm install --no-audit --no-fund --silent >/dev/null 2>&1); }; then
  say "DuckDB on the same rows"
  "$bin/bench_query" --db "$store" --export-csv "$work/rows.csv"
  # with chengxin's ranking of a province: duckdb_scorecard_province, checked against it
  if node "$root/bench/duckdb/agg.mjs" "$work/rows.csv" "$work/query.json" "$work/duckdb.json" "$budget" \
       "$work/scorecards.json" "$root/data/scorecard.tsv"; then
    jq --slurpfile d "$work/duckdb.json" '.ops += $d[0].ops' "$work/query.json" > "$work/query.j2"
    mv "$work/query.j2" "$work/query.json"
  else
    echo "bench/run.sh: FAILED: DuckDB baseline" >&2
    failures+=("duckdb")
  fi
  rm -f "$work/rows.csv"
else
  say "DuckDB skipped (node, npm or @duckdb/node-api missing)"
fi

# ------------------------------------------------------------------ scaling
scale_files=()
for s in $scale; do
  e=${s%%:*} r=${s##*:}
  if [ "$r" = "$rec" ]; then d=$main_dir; else d=$(gen_store "$e" "$r"); fi
  say "scaling: check at $r records"
  "$bin/bench_query" --db "$d/store" --seed "$seed" --iters "$iters" --budget-ms "$budget" \
    --ops floor_mdb_get,check --no-sqlite --as-of "$as_of" --json "$work/scale-$r.json" \
    --label "$size-scale-$r" > "$work/scale-$r.txt"
  cat "$work/scale-$r.txt"
  jq --slurpfile g "$d/gen.json" '. + {gen: $g[0]}' "$work/scale-$r.json" > "$work/scale-$r.j2"
  scale_files+=("$work/scale-$r.j2")
done

# ------------------------------------------------------------------ load: chengxind vs redis
token=bench-$RANDOM$RANDOM-load-token # at least 16 bytes (chengxind refuses shorter)
printf '%s approval bench\n' "$token" > "$work/tokens"
chmod 600 "$work/tokens"
# start_chengxind THREADS -> prints its port once it listens
start_chengxind() {
  local th=$1 p log
  p=$("$bin/bench_load" --free-port)
  log=$work/chengxind-$th.log
  "$bin/chengxind" --db "$store" --listen "127.0.0.1:$p" --tokens "$work/tokens" --threads "$th" \
    > "$log" 2>&1 &
  echo "$! $p"
}
wait_listening() {
  local pid=$1 log=$2
  for _ in $(seq 1 300); do
    grep -q "listening" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "bench/run.sh: chengxind died" >&2; return 1; }
    sleep 0.1
  done
  echo "bench/run.sh: chengxind did not start" >&2
  return 1
}
threads=${CX_BENCH_SERVER_THREADS:-$(nproc)}   # chengxind's default: one worker loop per CPU
read -r cx_pid port < <(start_chengxind "$threads")
pids+=("$cx_pid")
wait_listening "$cx_pid" "$work/chengxind-$threads.log"
say "chengxind ($threads worker loops) on 127.0.0.1:$port"
# A second server with one worker loop: redis is single-threaded, and the load generator takes
# one of the 2 cores, so this is the like-for-like pairing.
port1=$port
if [ "$threads" != 1 ]; then
  read -r cx1_pid port1 < <(start_chengxind 1)
  pids+=("$cx1_pid")
  wait_listening "$cx1_pid" "$work/chengxind-1.log"
  say "chengxind (1 worker loop) on 127.0.0.1:$port1"
fi

rport=$("$bin/bench_load" --free-port)
say "redis-server on 127.0.0.1:$rport"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$work/redis.log" &
pids+=($!)
loaded=0
for _ in $(seq 1 100); do
  if "$bin/bench_load" --redis-load --db "$store" --port "$rport" > "$work/redis_load.txt" 2>/dev/null; then
    loaded=1; break
  fi
  sleep 0.1
done
[ $loaded = 1 ] || { echo "bench/run.sh: could not load redis" >&2; exit 1; }
cat "$work/redis_load.txt"

load_files=()
# load NAME SERVER_THREADS ARGS... : one bench_load run, its JSON tagged with the server's threads
load() {
  local name=$1 th=$2
  shift 2
  local f=$work/load-$name.json
  "$bin/bench_load" --db "$store" --seed "$seed" --conns 50 --duration "$ldur" --warmup "$lwarm" \
    --json "$f.raw" --label "$size" "$@"
  jq --argjson th "$th" '. + {server_threads: $th}' "$f.raw" > "$f"
  load_files+=("$f")
}
cx_args=(--proto cx --token "$token" --as-of "$as_of")
for depth in 1 4 16 64; do
  load "cx-$depth" "$threads" "${cx_args[@]}" --port "$port" --depth "$depth"
  load "resp-$depth" 1 --proto resp --port "$rport" --depth "$depth"
  if [ "$threads" != 1 ] && { [ "$depth" = 1 ] || [ "$depth" = 16 ]; }; then
    load "cx1-$depth" 1 "${cx_args[@]}" --port "$port1" --depth "$depth"
  fi
done
# check in batches of 100 codes per request (the approval systems' several-parties case)
load cx-batch100 "$threads" "${cx_args[@]}" --port "$port" --depth 1 --batch 100
# ping at depth 16: the server's own per-request cost, without the query core
load cx-ping-16 "$threads" --proto cx --token "$token" --port "$port" --depth 16 --op ping
# DESIGN's bar: a batch check of 1000 codes in one request
load cx-batch1000 "$threads" "${cx_args[@]}" --port "$port" --depth 1 --batch 1000
# the website's and approval systems' mix on one connection pool
load cx-mix "$threads" "${cx_args[@]}" --port "$port" --depth 1 --mix check=90,entity=8,records=2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_run1=$(date +%s)

# ------------------------------------------------------------------ results JSON
mkdir -p "$results"
out=$results/$date_utc-$size.json
jq -n --arg size "$size" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson seed "$seed" \
  --arg cmd "bench/run.sh $size" --arg load_after "$load_after" --argjson secs "$((t_run1 - t_run0))" \
  --argjson threads "$threads" \
  --slurpfile machine "$work/machine.json" --slurpfile versions "$work/versions.json" \
  --slurpfile gen "$main_dir/gen.json" --slurpfile imp "$work/import.json" \
  --slurpfile query "$work/query.json" --slurpfile duckdb "$work/duckdb.json" \
  --slurpfile scaling <(cat "${scale_files[@]}") --slurpfile load <(cat "${load_files[@]}") '
  {size: $size, date: $date, command: $cmd, seed: $seed, run_seconds: $secs,
   machine: ($machine[0] + {load_after: $load_after}), versions: $versions[0],
   import: [$gen[0], $imp[0]], query: $query[0], duckdb: ($duckdb[0] | del(.ops)), scaling: $scaling,
   server: {chengxind_threads: $threads, redis: "single-threaded, --save \"\" --appendonly no",
            load_generator: "bench_load, 1 thread, same machine"},
   load: $load,
   ratios: {
     check_vs_mdb_get: ($query[0].ops | map(select(.op == "check"))[0].ratio),
     sqlite_vs_check: ($query[0].ops | map(select(.op == "sqlite_check"))[0].ratio),
     scan_vs_rollup: (($query[0].ops | map(select(.op == "agg_scan"))[0].median_ns) /
                      ($query[0].ops | map(select(.op == "agg_covered"))[0].median_ns)),
     scan_vs_raw_walk: ($query[0].ops | map(select(.op == "agg_scan"))[0].ratio),
     sqlite_vs_scorecard_province: ($query[0].ops | map(select(.op == "sqlite_scorecard_province"))[0].ratio),
     duckdb_vs_scorecard_province: ($query[0].ops | map(select(.op == "duckdb_scorecard_province"))[0].ratio),
     duckdb_in_force_vs_scan: ((($query[0].ops | map(select(.op == "duckdb_in_force"))[0].median_ns) // null) as $d |
                               if $d then $d / ($query[0].ops | map(select(.op == "agg_in_force"))[0].median_ns) else null end),
     chengxind_vs_redis_depth1: (($load | map(select(.proto == "cx" and .op == "check" and .depth == 1 and .batch == 1 and .server_threads == $threads))[0].req_per_s) /
                                 ($load | map(select(.proto == "resp" and .depth == 1))[0].req_per_s)),
     chengxind_1loop_vs_redis_depth1: (($load | map(select(.proto == "cx" and .op == "check" and .depth == 1 and .batch == 1 and .server_threads == 1))[0].req_per_s) /
                                 ($load | map(select(.proto == "resp" and .depth == 1))[0].req_per_s)),
     chengxind_1loop_vs_redis_depth16: (($load | map(select(.proto == "cx" and .op == "check" and .depth == 16 and .batch == 1 and .server_threads == 1))[0].req_per_s) /
                                 ($load | map(select(.proto == "resp" and .depth == 16))[0].req_per_s)),
     chengxind_vs_redis_depth16: (($load | map(select(.proto == "cx" and .op == "check" and .depth == 16 and .batch == 1 and .server_threads == $threads))[0].req_per_s) /
                                  ($load | map(select(.proto == "resp" and .depth == 16))[0].req_per_s))
   }}' > "$out"
say "wrote $out"

# ------------------------------------------------------------------ plots and docs
"$root/bench/report.sh" "$out"
say "done in $((t_run1 - t_run0)) s (load average before: $load_before; after: $load_after)"
if [ ${#failures[@]} -gt 0 ]; then
  echo "bench/run.sh: FAILED: ${failures[*]}" >&2
  exit 1
fi
