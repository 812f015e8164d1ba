#!/usr/bin/env bash
# bench/checklog.sh — what the check log (receipts, docs/data-model.md "Check log and feedback")
# costs a server's check throughput: chengxind with the log (the default) against chengxind
# with --check-log off, on the same store, in the same run (docs/benchmarks.md, "Check log").
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load, bench_query);
#   2. generates a store (100k entities / 1M records, seed 42) under $CX_BENCH_DATA, kept and
#      reused; its own directory (checklog-…): the log's entries are written into it;
#   3. CX_CL_ROUNDS rounds (default 3): per round, a server with the log and one without, each
#      started alone on a fresh port, one bench_load run each (50 connections, check of one
#      code per request, depth CX_CL_DEPTH, default 1 and 16, CX_CL_SECONDS each after a 1 s
#      warm-up); odd rounds start with the log, even rounds without, so drift cancels;
#      after each run with the log, stats.check_log is read (queued, written, rejected);
#   4. in process: bench_query's floor_mdb_get, check and check_plain (codes without an
#      advisory hit: what the approval hints cost the entities that have none);
#   5. writes bench/results/<date>-checklog.json and prints the medians and ratios.
# Never asserts a figure; exits non-zero when a run fails or answers wrongly.
#
# Environment: CX_BENCH_DATA (default /tmp/cx_bench_data), CX_BENCH_BIN=DIR (binaries from DIR,
# no build), CX_BENCH_SEED (42), CX_BENCH_SERVER_THREADS (default nproc), CX_CL_ENTITIES,
# CX_CL_RECORDS, CX_CL_ROUNDS, CX_CL_SECONDS (3), CX_CL_CONNS (50), CX_CL_DEPTHS ("1 16").
. "$(dirname "$0")/common.sh" checklog
ent=${CX_CL_ENTITIES:-100000}
rec=${CX_CL_RECORDS:-1000000}
rounds=${CX_CL_ROUNDS:-3}
secs=${CX_CL_SECONDS:-3}
conns=${CX_CL_CONNS:-50}
depths=${CX_CL_DEPTHS:-1 16}
threads=${CX_BENCH_SERVER_THREADS:-$(nproc)}
as_of=2026-01-01 # the generator writes decisions in 2020-2025
cxb_build chengxin chengxind bench_load bench_query

sdir=$data/checklog-e$ent-r$rec-s$seed
cxb_gen_store "$sdir" "$ent" "$rec"
store=$sdir/store

token=bench-$RANDOM$RANDOM-checklog-token # at least 16 bytes
printf '%s admin bench\n' "$token" > "$work/tokens" # admin: check and stats on one token
chmod 600 "$work/tokens"
printf '%s\n' "$token" > "$work/token"
chmod 600 "$work/token"

# start LOG (on|off): a server alone on the store; sets srv and port
start() {
  cxb_chengxind "$work/chengxind.log" --db "$store" --listen 127.0.0.1:0 --tokens "$work/tokens" \
    --threads "$threads" --check-log "$1"
  port=$mport
}
stop() { kill "$srv"; wait "$srv" 2>/dev/null || true; srv=; pids=(); }

load_files=()
# run ROUND LOG DEPTH
run() {
  local r=$1 log=$2 d=$3 f=$work/load-$1-$2-$3.json
  start "$log"
  "$bin/bench_load" --db "$store" --seed "$seed" --token "$token" --as-of "$as_of" --conns "$conns" \
    --depth "$d" --duration "$secs" --warmup 1 --proto cx --port "$port" --json "$f.raw" \
    --label "round $r log $log depth $d" >&2
  local cl='{}'
  if [ "$log" = on ]; then
    sleep 0.5 # the flusher's next round (200 ms) writes what the run queued
    "$bin/chengxin" stats --connect "127.0.0.1:$port" --token-file "$work/token" --format json > "$work/stats.json"
    cl=$(jq -c '.check_log' "$work/stats.json")
  fi
  stop
  jq --argjson r "$r" --arg log "$log" --argjson th "$threads" --argjson cl "$cl" \
    '. + {round: $r, check_log: $log, server_threads: $th, check_log_stats: $cl}' "$f.raw" > "$f"
  load_files+=("$f")
}
for r in $(seq 1 "$rounds"); do
  for d in $depths; do
    say "round $r of $rounds, depth $d"
    if [ $((r % 2)) = 1 ]; then run "$r" on "$d"; run "$r" off "$d"
    else run "$r" off "$d"; run "$r" on "$d"; fi
  done
done

say "bench_query: floor_mdb_get, check, check_plain"
"$bin/bench_query" --db "$store" --seed "$seed" --no-sqlite --ops floor_mdb_get,check,check_plain \
  --iters 300000 --budget-ms 1500 --as-of "$as_of" --json "$work/query.json" --label checklog >&2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
out=$resdir/$date_utc-checklog.json
jq -n --arg cmd "bench/checklog.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(cxb_commit)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg lb "$load_before" --arg la "$load_after" --argjson threads "$threads" \
  --argjson rounds "$rounds" --argjson secs "$secs" --argjson conns "$conns" \
  --slurpfile gen "$sdir/gen.json" --slurpfile load <(cat "${load_files[@]}") \
  --slurpfile q "$work/query.json" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def runs($log; $d): [$load[] | select(.check_log == $log and .depth == $d)];
  def med($log; $d): runs($log; $d) |
    {runs: length, req_per_s: (map(.req_per_s) | median), p50_ns: (map(.p50_ns) | median),
     p99_ns: (map(.p99_ns) | median)};
  def op($n): ($q[0].ops | map(select(.op == $n))[0]);
  {command: $cmd, date: $date, commit: $commit,
   machine: {cpu: $cpu, cores: ($cores | tonumber), load_before: $lb, load_after: $la},
   store: $gen[0], server_threads: $threads, conns: $conns, seconds: $secs, rounds: $rounds,
   load: $load,
   by_depth: ([$load[].depth] | unique | map(. as $d |
     {depth: $d, on: med("on"; $d), off: med("off"; $d),
      on_vs_off: (med("on"; $d).req_per_s / med("off"; $d).req_per_s),
      per_round: [range(1; $rounds + 1) as $r |
                  ([$load[] | select(.round == $r and .depth == $d and .check_log == "on")][0].req_per_s /
                   [$load[] | select(.round == $r and .depth == $d and .check_log == "off")][0].req_per_s)]})),
   query: {floor_mdb_get: op("floor_mdb_get"), check: op("check"), check_plain: op("check_plain")}}' > "$out"
say "wrote $out"
jq -r '"load average before \(.machine.load_before), after \(.machine.load_after); \(.server_threads) loops, \(.conns) connections",
  (.by_depth[] | "depth \(.depth): with the log \(.on.req_per_s | floor) req/s (p50 \(.on.p50_ns / 1000 | floor) us, p99 \(.on.p99_ns / 1000 | floor) us), without \(.off.req_per_s | floor) req/s (p50 \(.off.p50_ns / 1000 | floor) us, p99 \(.off.p99_ns / 1000 | floor) us): ratio \(.on_vs_off * 1000 | floor / 1000), per round \(.per_round | map(. * 1000 | floor / 1000))"),
  (.query | "in process: floor_mdb_get \(.floor_mdb_get.median_ns) ns, check \(.check.median_ns) ns, check_plain \(.check_plain.median_ns) ns (\(.check_plain.note))")' "$out"
