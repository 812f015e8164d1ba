#!/usr/bin/env bash
# bench/abuse.sh — a well-behaved `check` client alone, then under the abuse mix of issue
# "Bounded under abuse", against the same chengxind in the same run (docs/benchmarks.md,
# "Under abuse").
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load, bench_abuse);
#   2. generates a store (10k entities / 100k records, seed 42) and imports into it one entity
#      of 1,000 records of 8.6 KB (its 1000-record page is an 8.6 MB answer);
#   3. starts chengxind with --max-output-total 16 MiB and --frame-timeout 2;
#   4. bench_load: 1 connection, depth 1, `check` of one code per request, CX_ABUSE_SECONDS
#      (default 5) after a 1 s warm-up: alone;
#   5. the same while bench_abuse runs: 200 non-readers of searches, 20 non-readers of heavy
#      pages, 4 pipeliners keeping 16 records scans of the heavy entity in flight, 200 slow
#      senders (a byte a second), 100 half frames (the mix's sizes: CX_ABUSE_MIX);
#   6. writes bench/results/<date>-abuse.json (both runs, the ratio of the p99s, the server's
#      peak RSS, machine) and prints the lines docs/benchmarks.md quotes.
# Never asserts a figure; exits non-zero when a run fails or answers wrongly.
#
# Environment: CX_BENCH_DATA (default /tmp/cx_bench_data), CX_BENCH_BIN=DIR (binaries from
# DIR, no build), CX_ABUSE_SECONDS, CX_ABUSE_MIX ("--nonreaders 200 --heavy 20 --pipeliners 4
# --slow 200 --half 100"), CX_BENCH_SERVER_THREADS (default nproc).
. "$(dirname "$0")/common.sh" abuse
secs=${CX_ABUSE_SECONDS:-5}
mix=${CX_ABUSE_MIX:---nonreaders 200 --heavy 20 --pipeliners 4 --slow 200 --half 100}
threads=${CX_BENCH_SERVER_THREADS:-$(nproc)}
cxb_build chengxin chengxind bench_load bench_abuse

store=$data/abuse-e10000-r100000-s42
if [ ! -s "$store/code" ]; then
  rm -rf "$store"; mkdir -p "$store"
  say "chengxin gen --db (10000 entities, 100000 records) + one heavy entity"
  "$bin/chengxin" gen --db "$store/db" --entities 10000 --records 100000 --seed 42 --quiet
  "$bin/bench_abuse" --make-heavy-csv "$work/heavy.csv" --records 1000 > "$work/code"
  "$bin/chengxin" import --db "$store/db" "$work/heavy.csv" > "$work/import.log" 2>&1 ||
    { cat "$work/import.log" >&2; exit 1; }
  cp "$work/code" "$store/code"
fi
code=$(cat "$store/code")

token=bench-$RANDOM$RANDOM-abuse-token # at least 16 bytes (chengxind refuses shorter)
printf '%s approval bench\n' "$token" > "$work/tokens"
chmod 600 "$work/tokens"
port=$("$bin/bench_load" --free-port)
cxb_chengxind "$work/chengxind.log" --db "$store/db" --listen "127.0.0.1:$port" --tokens "$work/tokens" \
  --threads "$threads" --max-output-total 16777216 --frame-timeout 2

probe=(--db "$store/db" --port "$port" --token "$token" --conns 1 --depth 1 --op check
       --duration "$secs" --warmup 1)
say "check alone (${secs} s)"
"$bin/bench_load" "${probe[@]}" --json "$work/alone.json" --label alone
say "the abuse mix: $mix"
# shellcheck disable=SC2086
"$bin/bench_abuse" --port "$port" --code "$code" --duration "$((secs + 5))" $mix --json "$work/mix.json" &
ab=$!
pids+=("$ab")
sleep 2 # the mix connects and fills the output budget
say "check under abuse (${secs} s)"
"$bin/bench_load" "${probe[@]}" --json "$work/abuse.json" --label abuse
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
wait "$ab"
out=$resdir/$date_utc-abuse.json
jq -n --arg cmd "bench/abuse.sh" --arg mix "$mix" --argjson threads "$threads" --argjson hwm "$hwm" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
  --arg cores "$(nproc)" --arg commit "$(cxb_commit)" \
  --slurpfile alone "$work/alone.json" --slurpfile abuse "$work/abuse.json" --slurpfile m "$work/mix.json" '
  {command: $cmd, date: $date, commit: $commit, machine: {cpu: $cpu, cores: ($cores|tonumber)},
   server: {threads: $threads, options: "--max-output-total 16777216 --frame-timeout 2",
            peak_rss_kb: $hwm},
   mix: ($m[0] + {args: $mix}), alone: $alone[0], under_abuse: $abuse[0],
   p99_ratio: ($abuse[0].p99_ns / $alone[0].p99_ns), p50_ratio: ($abuse[0].p50_ns / $alone[0].p50_ns)}' > "$out"
say "wrote $out"
jq -r '"check alone:        p50 \(.alone.p50_ns/1000) us, p99 \(.alone.p99_ns/1000) us, \(.alone.req_per_s|floor) req/s",
       "check under abuse:  p50 \(.under_abuse.p50_ns/1000) us, p99 \(.under_abuse.p99_ns/1000) us, \(.under_abuse.req_per_s|floor) req/s",
       "p99 ratio \(.p99_ratio*100|floor/100), p50 ratio \(.p50_ratio*100|floor/100); server peak RSS \(.server.peak_rss_kb) kB"' "$out"
