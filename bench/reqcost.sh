#!/usr/bin/env bash
# bench/reqcost.sh — issue 20, goal 3: what one request costs chengxind with one worker loop
# against redis-server GET of the same summary bytes, same load generator, same run
# (docs/benchmarks.md, "Request cost").
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load) unless CX_BENCH_BIN;
#   2. generates a store (100k entities / 1M records, seed 42) under $CX_BENCH_DATA, kept and
#      reused; its own directory (reqcost-…): the check log writes into it (emptied first);
#   3. starts, each on its own port: chengxind --threads 1 (the check log on: the default),
#      chengxind --threads 1 --check-log off, redis-server (single-threaded, no persistence,
#      loaded by bench_load --redis-load) and, with CX_RC_BASELINE=DIR, the same two chengxind
#      from the binaries in DIR (a build before a change: an A/B in one run);
#   4. CX_RC_ROUNDS rounds (default 3) per depth (CX_RC_DEPTHS, default "1 16"): one bench_load
#      run per server in turn (50 connections, check of one code per request, CX_RC_SECONDS
#      after a 1 s warm-up), the order rotated each round so that drift spreads over all;
#      around each run the server's CPU time (utime + stime, /proc/PID/stat) gives its CPU per
#      answer (warm-up included on both sides of the division);
#   5. writes bench/results/<date>-reqcost.json and prints the medians: req/s, p50, p99, CPU
#      µs per answer, and each server's ratios to redis (req/s; redis's CPU per answer over
#      the server's). CPU per answer is the figure that survives a busy machine; req/s moves
#      with whatever else runs (the load average before and after is printed and kept).
# Never asserts a figure; exits non-zero when a run fails. Wrong answers (a `busy` answer of a
# full check log is one) are counted per run and in the medians' bad_answers, not hidden.
#
# Environment: CX_BENCH_DATA (default /tmp/cx_bench_data), CX_BENCH_BIN=DIR, CX_BENCH_SEED (42),
# CX_RC_ENTITIES (100000), CX_RC_RECORDS (1000000), CX_RC_ROUNDS (3), CX_RC_SECONDS (3),
# CX_RC_CONNS (50), CX_RC_DEPTHS ("1 16"), CX_RC_BASELINE=DIR, CX_RC_OUT=FILE (the JSON; default
# bench/results/<date>-reqcost.json), CX_RC_PRUNE (1: empty the store's check log first).
. "$(dirname "$0")/common.sh" reqcost redis-server
ent=${CX_RC_ENTITIES:-100000}
rec=${CX_RC_RECORDS:-1000000}
rounds=${CX_RC_ROUNDS:-3}
secs=${CX_RC_SECONDS:-3}
conns=${CX_RC_CONNS:-50}
depths=${CX_RC_DEPTHS:-1 16}
base=${CX_RC_BASELINE:-}
as_of=2026-01-01 # the generator writes decisions in 2020-2025
cxb_build chengxin chengxind bench_load
[ -z "$base" ] || [ -x "$base/chengxind" ] || { echo "bench/reqcost.sh: no $base/chengxind" >&2; exit 1; }

sdir=$data/reqcost-e$ent-r$rec-s$seed
cxb_gen_store "$sdir" "$ent" "$rec"
store=$sdir/store
# The runs log their checks into this store (~100 bytes each on disk: 51M entries, 6.5 GB, had
# piled up by 2026-12-01): the check log is emptied first (CX_RC_PRUNE=0 keeps it), so every run
# starts from the same store and the log's pages freed here are reused (the file stops growing).
if [ "${CX_RC_PRUNE:-1}" = 1 ]; then
  tomorrow=$(date -u -d "@$(( $(date +%s) + 8 * 3600 + 86400 ))" +%Y-%m-%d) # Beijing's tomorrow
  say "chengxin prune-checks --before $tomorrow"
  "$bin/chengxin" prune-checks --db "$store" --before "$tomorrow" --quiet
fi

token=bench-$RANDOM$RANDOM-reqcost-token
printf '%s approval bench\n' "$token" > "$work/tokens"
chmod 600 "$work/tokens"

# servers: NAME PID PORT PROTO, in start order
names=() spid=() sport=() sproto=()
start_cx() { # NAME BINDIR ARGS...
  local n=$1 d=$2 p
  shift 2
  p=$("$bin/bench_load" --free-port)
  "$d/chengxind" --db "$store" --listen "127.0.0.1:$p" --tokens "$work/tokens" --threads 1 "$@" \
    > "$work/$n.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 300); do
    grep -q listening "$work/$n.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$n.log" >&2; echo "bench/reqcost.sh: $n died" >&2; exit 1; }
    sleep 0.1
  done
  names+=("$n"); spid+=("$pid"); sport+=("$p"); sproto+=(cx)
  say "$n: $d/chengxind --threads 1 $* on 127.0.0.1:$p"
}
start_cx cx "$bin"
start_cx cx_nolog "$bin" --check-log off
if [ -n "$base" ]; then
  start_cx base "$base"
  start_cx base_nolog "$base" --check-log off
fi
rport=$("$bin/bench_load" --free-port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$work/redis.log" &
rpid=$!
pids+=("$rpid")
loaded=0
for _ in $(seq 1 100); do
  if "$bin/bench_load" --redis-load --db "$store" --port "$rport" > "$work/redis_load.txt" 2>/dev/null; then
    loaded=1; break
  fi
  sleep 0.1
done
[ $loaded = 1 ] || { echo "bench/reqcost.sh: could not load redis" >&2; exit 1; }
names+=(redis); spid+=("$rpid"); sport+=("$rport"); sproto+=(resp)
say "redis-server on 127.0.0.1:$rport ($(head -1 "$work/redis_load.txt"))"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
runs=()
ns=${#names[@]}
for depth in $depths; do
  for r in $(seq 1 "$rounds"); do
    for k in $(seq 0 $((ns - 1))); do
      i=$(( (k + r - 1) % ns ))
      n=${names[$i]}
      f=$work/run-$n-d$depth-r$r.json
      args=(--proto "${sproto[$i]}" --port "${sport[$i]}")
      [ "${sproto[$i]}" = cx ] && args+=(--token "$token" --as-of "$as_of")
      c0=$(cpu_ticks "${spid[$i]}")
      # bench_load exits non-zero on wrong answers too; with its JSON written they are counted
      # (bad_answers) and the run goes on; without it the run failed
      rm -f "$f.raw"
      "$bin/bench_load" --db "$store" --seed "$seed" --conns "$conns" --duration "$secs" --warmup 1 \
        --depth "$depth" "${args[@]}" --json "$f.raw" > "$work/out.txt" 2>&1 || true
      if ! [ -s "$f.raw" ]; then
        cat "$work/out.txt" >&2
        echo "bench/reqcost.sh: bench_load against $n failed (depth $depth, round $r)" >&2
        exit 1
      fi
      c1=$(cpu_ticks "${spid[$i]}")
      jq --arg server "$n" --argjson round "$r" --argjson ticks "$((c1 - c0))" --argjson hz "$hz" \
        '. + {server: $server, round: $round,
              cpu_us_per_answer: (if .responses_total > 0 then $ticks / $hz * 1e6 / .responses_total else null end)}' \
        "$f.raw" > "$f"
      printf '   depth %-2s round %s %-10s %9.0f req/s  p99 %7.1f us  %5.2f us CPU/answer  bad %s\n' \
        "$depth" "$r" "$n" "$(jq .req_per_s "$f")" "$(jq '.p99_ns / 1000' "$f")" \
        "$(jq .cpu_us_per_answer "$f")" "$(jq .bad_answers "$f")" >&2
      runs+=("$f")
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

out=${CX_RC_OUT:-$resdir/$date_utc-reqcost.json}
jq -s --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(cxb_commit)" \
  --arg load_before "$load_before" --arg load_after "$load_after" --arg base "$base" \
  --argjson ent "$ent" --argjson rec "$rec" --argjson conns "$conns" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  . as $runs
  | [$runs[] | {server, depth}] | unique
  | map(. as $k | [$runs[] | select(.server == $k.server and .depth == $k.depth)] as $rs
        | $k + {req_per_s: ([$rs[].req_per_s] | median), p50_us: ([$rs[].p50_ns / 1000] | median),
                p99_us: ([$rs[].p99_ns / 1000] | median), cpu_us_per_answer: ([$rs[].cpu_us_per_answer] | median),
                bad_answers: ([$rs[].bad_answers] | add), rounds: ($rs | length)}) as $med
  | {bench: "reqcost", date: $date, commit: $commit, baseline_bin: $base, entities: $ent, records: $rec,
     conns: $conns, server_threads: 1, load_before: $load_before, load_after: $load_after,
     medians: $med,
     vs_redis: [$med[] | select(.server != "redis") | . as $m
                | ($med[] | select(.server == "redis" and .depth == $m.depth)) as $r
                | {server: $m.server, depth: $m.depth, req_per_s_ratio: ($m.req_per_s / $r.req_per_s),
                   cpu_ratio: ($r.cpu_us_per_answer / $m.cpu_us_per_answer)}],
     runs: $runs}' "${runs[@]}" > "$out"
say "wrote $out (load average before $load_before, after $load_after)"
jq -r '.medians[] | "\(.server)\tdepth \(.depth)\t\(.req_per_s | floor) req/s\tp50 \(.p50_us) us\tp99 \(.p99_us) us\t\(.cpu_us_per_answer * 100 | round / 100) us CPU/answer"' "$out"
jq -r '.vs_redis[] | "\(.server) vs redis, depth \(.depth): req/s \(.req_per_s_ratio * 100 | round / 100)x, CPU per answer \(.cpu_ratio * 100 | round / 100)x"' "$out"
