#!/usr/bin/env bash
# bench/reqcost_ir.sh — issue 20, goal 3: the user-space instructions one answer costs, counted
# by callgrind (valgrind), for chengxind with one worker loop (the check log on and off, and
# with CX_RC_BASELINE=DIR the same two from the binaries in DIR) and redis-server GET of the same
# summary bytes (docs/benchmarks.md, "Request cost, second pass").
#
# Why beside bench/reqcost.sh: on a shared 2-core machine the CPU time per answer moves by
# ±15 % from one round to the next; an instruction count does not. It leaves out the kernel (the
# read and write system calls, the loopback delivery, context switches: most of the cost at depth
# 1) and cache misses (the B-tree descent's), so it measures the code, not the request.
#
# Each server runs under `valgrind --tool=callgrind` (about 50x slower); its counters are zeroed
# once it listens (callgrind_control -z), bench_load runs CX_RC_SECONDS (default 8) with 50
# connections and no warm-up, the counters are dumped (callgrind_control -d) and the total
# instructions of every thread (the check log's flusher included) are divided by the answers
# bench_load received. Writes $CX_BENCH_RESULTS (default bench/results)/<date>-reqcost-ir.json
# and prints the table. Never asserts a figure.
#
# Environment: CX_BENCH_DATA, CX_BENCH_BIN=DIR, CX_BENCH_SEED (42), CX_BENCH_RESULTS=DIR (where the
# JSON goes), CX_RC_ENTITIES (100000), CX_RC_RECORDS (1000000): the store of bench/reqcost.sh,
# made by cxb_gen_store when missing; CX_RC_DEPTHS ("1 16"), CX_RC_SECONDS (8),
# CX_RC_BASELINE=DIR.
. "$(dirname "$0")/common.sh" reqcost_ir valgrind callgrind_control redis-server
ent=${CX_RC_ENTITIES:-100000}
rec=${CX_RC_RECORDS:-1000000}
depths=${CX_RC_DEPTHS:-1 16}
secs=${CX_RC_SECONDS:-8}
base=${CX_RC_BASELINE:-}
cxb_build chengxin chengxind bench_load
[ -z "$base" ] || [ -x "$base/chengxind" ] || { echo "bench/reqcost_ir.sh: no $base/chengxind" >&2; exit 1; }
sdir=$data/reqcost-e$ent-r$rec-s$seed
cxb_gen_store "$sdir" "$ent" "$rec"
store=$sdir/store
out=$resdir/$date_utc-reqcost-ir.json
vpid=
cxb_on_exit() { [ -z "$vpid" ] || { kill "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null; }; }
token=bench-$RANDOM$RANDOM-reqcost-ir-token
printf '%s approval bench\n' "$token" > "$work/tokens"
chmod 600 "$work/tokens"

# one server under callgrind: NAME DEPTH PROTO CMD...; appends a JSON line to $work/rows
measure() {
  local name=$1 depth=$2 proto=$3 port=$4
  shift 4
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" --dump-instr=no "$@" > "$work/$name.log" 2>&1 &
  vpid=$!
  local up=0
  for _ in $(seq 1 600); do
    if [ "$proto" = resp ]; then
      "$bin/bench_load" --redis-load --db "$store" --port "$port" > /dev/null 2>&1 && { up=1; break; }
    else
      grep -q listening "$work/$name.log" && { up=1; break; }
    fi
    kill -0 "$vpid" 2>/dev/null || break
    sleep 0.2
  done
  [ $up = 1 ] || { tail -5 "$work/$name.log" >&2; echo "bench/reqcost_ir.sh: $name did not start" >&2; exit 1; }
  callgrind_control -z "$vpid" > /dev/null
  local args=(--proto "$proto" --port "$port")
  [ "$proto" = cx ] && args+=(--token "$token" --as-of 2026-01-01)
  "$bin/bench_load" --db "$store" --seed "$seed" --conns 50 --duration "$secs" --warmup 0 --depth "$depth" \
    "${args[@]}" --json "$work/load.json" > /dev/null 2>&1 || true
  [ -s "$work/load.json" ] || { echo "bench/reqcost_ir.sh: bench_load against $name failed" >&2; exit 1; }
  sleep 0.5 # the check log's last flush (200 ms)
  callgrind_control -d "$vpid" > /dev/null
  sleep 0.3
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
  local f
  f=$(ls -t "$work"/cg.$vpid.* | head -1)
  vpid=
  local ir
  ir=$(grep -m1 '^summary:\|^totals:' "$f" | awk '{print $2}')
  rm -f "$work"/cg.*
  jq -c --arg s "$name" --argjson d "$depth" --argjson ir "$ir" \
    '{server: $s, depth: $d, answers: .responses_total, bad_answers: .bad_answers, instructions: $ir,
      instructions_per_answer: ($ir / .responses_total | floor)}' "$work/load.json" | tee -a "$work/rows" >&2
}
cx() { # NAME BINDIR DEPTH ARGS...
  local n=$1 d=$2 depth=$3 p
  shift 3
  p=$("$bin/bench_load" --free-port)
  # a small map: valgrind's address space does not take the default 64 GiB
  measure "$n" "$depth" cx "$p" "$d/chengxind" --db "$store" --listen "127.0.0.1:$p" --tokens "$work/tokens" \
    --threads 1 --map-size 4294967296 "$@"
}
for depth in $depths; do
  cx cx "$bin" "$depth"
  cx cx_nolog "$bin" "$depth" --check-log off
  if [ -n "$base" ]; then
    cx base "$base" "$depth"
    cx base_nolog "$base" "$depth" --check-log off
  fi
  p=$("$bin/bench_load" --free-port)
  measure redis "$depth" resp "$p" redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --daemonize no
done
jq -s --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(cxb_commit)" \
  --arg base "$base" --arg load "$load_before" --argjson secs "$secs" \
  '{bench: "reqcost_ir", date: $date, commit: $commit, baseline_bin: $base, load_before: $load, seconds: $secs,
    conns: 50, server_threads: 1, rows: .,
    vs_redis: [.[] as $r | select($r.server != "redis") | (.[] | select(.server == "redis" and .depth == $r.depth)) as $x
               | {server: $r.server, depth: $r.depth, instructions_over_redis: ($r.instructions_per_answer / $x.instructions_per_answer)}]}' \
  "$work/rows" > "$out"
echo "== wrote $out" >&2
jq -r '.rows[] | "\(.server)\tdepth \(.depth)\t\(.instructions_per_answer) instructions/answer\t(\(.answers) answers, \(.bad_answers) bad)"' "$out"
