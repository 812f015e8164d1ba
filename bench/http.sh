#!/usr/bin/env bash
# bench/http.sh — issue 14 "Speed": chengxind's HTTP door against its msgpack door in the same
# run, and check through the executor (cx_exec) against the query core (docs/benchmarks.md,
# "HTTP door").
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load, bench_query);
#   2. generates a store (100k entities / 1M records, seed 42; ~10 s; kept under
#      $CX_BENCH_DATA and reused by later runs);
#   3. starts one chengxind with --listen 127.0.0.1:0 --http 127.0.0.1:0 and an approval token;
#   4. CX_HTTP_ROUNDS rounds (default 3) of bench_load, 50 keep-alive connections, depth 1,
#      check of one code per request, CX_HTTP_SECONDS (default 3) after a 1 s warm-up each:
#      the msgpack door, then the HTTP door (POST /v1/check, JSON); odd rounds run msgpack
#      first, even rounds HTTP first, so that drift of the shared machine cancels;
#      with CX_HTTP_PERF=1, one more HTTP run under `perf record -g` on chengxind;
#   5. in process: bench_query's check, exec_check (cx_exec of one code) and exec_check1000
#      (cx_exec of 1000 codes per call, the CLI's request size) on the same store;
#   6. the CLI's local mode: `chengxin check --db STORE --file F` of 10,000 codes (the load
#      pool's draw, 10 % unknown) and of 1 code, CX_HTTP_CLI_RUNS times each (default 5),
#      alternating; per code = (median 10k - median 1) / 9999. With CX_HTTP_CLI_BEFORE=BIN (a
#      chengxin built before local mode went through cx_exec, e.g. at 028390b) the same on a
#      store that binary generates from the same seed, alternating with the current binary;
#   7. writes bench/results/<date>-http.json and prints the figures docs/benchmarks.md quotes.
# Never asserts a figure; exits non-zero when a run fails or answers wrongly.
#
# Environment: CX_BENCH_DATA (default /tmp/cx_bench_data), CX_BENCH_BIN=DIR (binaries from
# DIR, no build), CX_BENCH_SEED (42), CX_BENCH_SERVER_THREADS (default nproc), CX_HTTP_ENTITIES,
# CX_HTTP_RECORDS, CX_HTTP_ROUNDS, CX_HTTP_SECONDS, CX_HTTP_CONNS (50), CX_HTTP_CLI_RUNS,
# CX_HTTP_CLI_BEFORE, CX_HTTP_PERF=1 (perf report into bench/results/<date>-http-perf.txt).
. "$(dirname "$0")/common.sh" http
ent=${CX_HTTP_ENTITIES:-100000}
rec=${CX_HTTP_RECORDS:-1000000}
rounds=${CX_HTTP_ROUNDS:-3}
secs=${CX_HTTP_SECONDS:-3}
conns=${CX_HTTP_CONNS:-50}
cli_runs=${CX_HTTP_CLI_RUNS:-5}
threads=${CX_BENCH_SERVER_THREADS:-$(nproc)}
as_of=2026-01-01 # the generator writes decisions in 2020-2025 (bench/run.sh finds the same day)
cxb_build chengxin chengxind bench_load bench_query

sdir=$data/http-e$ent-r$rec-s$seed
cxb_gen_store "$sdir" "$ent" "$rec"
store=$sdir/store

# ------------------------------------------------------------------ the two doors
token=bench-$RANDOM$RANDOM-http-token # at least 16 bytes (chengxind refuses shorter)
printf '%s approval bench\n' "$token" > "$work/tokens"
chmod 600 "$work/tokens"
cxb_chengxind "$work/chengxind.log" --db "$store" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --tokens "$work/tokens" --threads "$threads"
[ -n "$hport" ] || { cat "$work/chengxind.log" >&2; echo "bench/http.sh: no HTTP listener" >&2; exit 1; }
say "chengxind ($threads worker loops): msgpack on 127.0.0.1:$mport, http on 127.0.0.1:$hport"

common=(--db "$store" --seed "$seed" --token "$token" --as-of "$as_of" --conns "$conns" --depth 1
        --duration "$secs" --warmup 1)
load_files=()
# run_door ROUND DOOR
run_door() {
  local r=$1 door=$2 port=$mport proto=cx f
  if [ "$door" = http ]; then port=$hport proto=http; fi
  f=$work/load-$r-$door.json
  "$bin/bench_load" "${common[@]}" --proto "$proto" --port "$port" --json "$f.raw" --label "round $r"
  jq --argjson r "$r" --argjson th "$threads" '. + {round: $r, server_threads: $th}' "$f.raw" > "$f"
  load_files+=("$f")
}
for r in $(seq 1 "$rounds"); do
  say "round $r of $rounds"
  if [ $((r % 2)) = 1 ]; then run_door "$r" msgpack; run_door "$r" http
  else run_door "$r" http; run_door "$r" msgpack; fi
done

perf_note=null
if [ "${CX_HTTP_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  say "perf record -g on chengxind during one more HTTP run"
  perf record -g -o "$work/perf.data" -p "$srv" -- sleep "$((secs + 1))" > "$work/perf.log" 2>&1 &
  pf=$!
  "$bin/bench_load" "${common[@]}" --proto http --port "$hport" --label perf > "$work/perf-load.txt"
  wait "$pf" || true
  pout=$resdir/$date_utc-http-perf.txt
  { echo "# bench/http.sh CX_HTTP_PERF=1: perf record -g -p chengxind during: $(cat "$work/perf-load.txt")"
    echo "# perf report --no-children --sort dso,symbol --percent-limit 0.7 (self time)"
    perf report -i "$work/perf.data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio -g none 2>/dev/null |
      grep -v '^$'
    echo "# perf report --no-children --sort dso (self time by library)"
    perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$'
  } > "$pout"
  perf_note="\"${pout#"$root"/}\""
  say "wrote $pout"
fi
kill "$srv"; wait "$srv" 2>/dev/null || true
pids=()

# ------------------------------------------------------------------ in process: core vs cx_exec
say "bench_query: check, exec_check, exec_check1000"
"$bin/bench_query" --db "$store" --seed "$seed" --no-sqlite --ops check,exec_check,exec_check1000 \
  --iters 300000 --budget-ms 1500 --as-of "$as_of" --json "$work/query.json" --label http >&2

# ------------------------------------------------------------------ the CLI's local mode
"$bin/bench_load" --codes-out "$work/codes10k" --db "$store" --seed "$seed" --pool 9000 >&2
head -1 "$work/codes10k" > "$work/codes1"
# cli_time BIN STORE FILE: wall µs of one local check (exit 0 clear, 3 deny, 4 review are answers)
cli_time() {
  local t0 t1 rc=0
  t0=$(date +%s%N)
  "$1" check --db "$2" --action procurement --as-of "$as_of" --role approval --format jsonl \
    --file "$3" > /dev/null || rc=$?
  t1=$(date +%s%N)
  case $rc in 0|3|4) ;; *) echo "bench/http.sh: $1 check failed ($rc)" >&2; exit 1 ;; esac
  echo $(( (t1 - t0) / 1000 ))
}
variants=("now $bin/chengxin $store")
if [ -n "${CX_HTTP_CLI_BEFORE:-}" ]; then
  bdir=$data/http-before-e$ent-r$rec-s$seed
  cxb_gen_store "$bdir" "$ent" "$rec" "$CX_HTTP_CLI_BEFORE"
  variants+=("before $CX_HTTP_CLI_BEFORE $bdir/store")
fi
: > "$work/cli.tsv"
say "chengxin check --db --file: 10000 codes and 1 code, $cli_runs runs each, alternating"
for _ in $(seq 1 "$cli_runs"); do
  for v in "${variants[@]}"; do
    read -r name b s <<< "$v"
    printf '%s\t10000\t%s\n' "$name" "$(cli_time "$b" "$s" "$work/codes10k")" >> "$work/cli.tsv"
    printf '%s\t1\t%s\n' "$name" "$(cli_time "$b" "$s" "$work/codes1")" >> "$work/cli.tsv"
  done
done
jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {variant: .[0], codes: (.[1]|tonumber), us: (.[2]|tonumber)})' \
  "$work/cli.tsv" > "$work/cli.json"

# ------------------------------------------------------------------ results
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
out=$resdir/$date_utc-http.json
jq -n --arg cmd "bench/http.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(cxb_commit)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg lb "$load_before" --arg la "$load_after" --argjson threads "$threads" \
  --argjson rounds "$rounds" --argjson secs "$secs" --argjson conns "$conns" --argjson perf "$perf_note" \
  --slurpfile gen "$sdir/gen.json" --slurpfile load <(cat "${load_files[@]}") \
  --slurpfile q "$work/query.json" --slurpfile cli "$work/cli.json" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def door($d): [$load[] | select(.door == $d)] |
    {rounds: length, req_per_s: (map(.req_per_s) | median), p50_ns: (map(.p50_ns) | median),
     p99_ns: (map(.p99_ns) | median), p999_ns: (map(.p999_ns) | median),
     response_bytes: (map(.response_bytes_avg) | median)};
  def op($n): ($q[0].ops | map(select(.op == $n))[0]);
  def cli($v; $n): [$cli[0][] | select(.variant == $v and .codes == $n) | .us] | median;
  def per_code($v): if cli($v; 10000) then (cli($v; 10000) - cli($v; 1)) * 1000 / 9999 else null end;
  {command: $cmd, date: $date, commit: $commit,
   machine: {cpu: $cpu, cores: ($cores | tonumber), load_before: $lb, load_after: $la},
   store: $gen[0], server_threads: $threads, conns: $conns, depth: 1, seconds: $secs,
   load: $load,
   doors: {msgpack: door("msgpack"), http: door("http")},
   http_vs_msgpack: {
     ratio_of_medians: (door("http").req_per_s / door("msgpack").req_per_s),
     per_round: [range(1; $rounds + 1) as $r |
                 ([$load[] | select(.round == $r and .door == "http")][0].req_per_s /
                  [$load[] | select(.round == $r and .door == "msgpack")][0].req_per_s)]},
   in_process: {check_ns: op("check").median_ns, exec_check_ns: op("exec_check").median_ns,
                exec_check1000_ns_per_code: (op("exec_check1000").median_ns / 1000),
                exec_vs_check: (op("exec_check").median_ns / op("check").median_ns),
                exec1000_vs_check: (op("exec_check1000").median_ns / 1000 / op("check").median_ns),
                ops: $q[0].ops},
   cli: {runs: $cli[0], median_us_10000: cli("now"; 10000), median_us_1: cli("now"; 1),
         ns_per_code: per_code("now"),
         vs_check: (per_code("now") / op("check").median_ns),
         before: (if cli("before"; 10000) then {median_us_10000: cli("before"; 10000),
                  median_us_1: cli("before"; 1), ns_per_code: per_code("before"),
                  now_vs_before: (per_code("now") / per_code("before"))} else null end)},
   perf_report: $perf}' > "$out"
say "wrote $out"
jq -r '
  def us: . / 1000 | (. * 10 | round) / 10;
  "msgpack door: \(.doors.msgpack.req_per_s | floor) req/s, p50 \(.doors.msgpack.p50_ns | us) us, p99 \(.doors.msgpack.p99_ns | us) us (median of \(.doors.msgpack.rounds) rounds)",
  "http door:    \(.doors.http.req_per_s | floor) req/s, p50 \(.doors.http.p50_ns | us) us, p99 \(.doors.http.p99_ns | us) us (median of \(.doors.http.rounds) rounds)",
  "http / msgpack: \(.http_vs_msgpack.ratio_of_medians * 100 | round / 100) (per round: \(.http_vs_msgpack.per_round | map(. * 100 | round / 100) | join(", ")))",
  "in process: check \(.in_process.check_ns) ns, cx_exec of 1 code \(.in_process.exec_check_ns) ns (\(.in_process.exec_vs_check * 100 | round / 100)x), of 1000 codes \(.in_process.exec_check1000_ns_per_code | round) ns per code (\(.in_process.exec1000_vs_check * 100 | round / 100)x)",
  "cli local check: 10000 codes \(.cli.median_us_10000) us, 1 code \(.cli.median_us_1) us: \(.cli.ns_per_code | round) ns per code (\(.cli.vs_check * 100 | round / 100)x check)",
  (if .cli.before then "cli before cx_exec (CX_HTTP_CLI_BEFORE): \(.cli.before.ns_per_code | round) ns per code; now / before \(.cli.before.now_vs_before * 100 | round / 100)" else empty end)' "$out"
