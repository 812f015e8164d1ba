#!/usr/bin/env bash
# bench/scan.sh — issue 20 goal 4: the in-force aggregate by province, a scan of the facts DB,
# split over the scan threads (agg_in_force) and in one thread (agg_in_force_1t), beside
# floor_facts (reading every byte of the facts DB, one thread; floor_facts_2t on two) and
# DuckDB's answer to the same
# spec on the same rows (all its threads), in the same run (docs/benchmarks.md, "Scans on both
# cores (issue 20, goal 4)").
#
#   1. builds Release into build-release/ (bench_query) unless CX_BENCH_BIN is given;
#   2. takes the store CX_SCAN_STORE (default: the medium store bench/run.sh and bench/site.sh
#      leave under $CX_BENCH_DATA); it is opened read-only, never generated here;
#   3. exports the rows once for DuckDB (`bench_query --export-csv`, ~0.8 GB at medium) to
#      CX_SCAN_CSV unless that file exists (kept when CX_SCAN_KEEP=1);
#   4. CX_SCAN_RUNS runs (default 3), each: bench_query --ops floor_facts,agg_in_force, then
#      node bench/duckdb/agg.mjs on the exported rows, whose answer is checked against
#      chengxin's (rows, counts, in-force totals);
#   5. CX_SCAN_ROUNDS alternating rounds (default 0): bench/duckdb/rounds.mjs loads the rows
#      into DuckDB once, then runs a short bench_query of the scans and DuckDB's query in turn,
#      round after round, so both meet the same load on a shared machine;
#   6. writes bench/results/<date>-scan-<HHMM>.json: every run's ops, the load average before
#      and after each, the medians over the runs, and the rounds with their median ratio.
# Never asserts a figure; exits non-zero when a run fails or an answer differs.
. "$(dirname "$0")/common.sh" scan
store=${CX_SCAN_STORE:-$data/http-e1000000-r10000000-s42/store}
csv=${CX_SCAN_CSV:-$data/scan-rows.csv}
runs=${CX_SCAN_RUNS:-3}
iters=${CX_SCAN_ITERS:-200}
budget=${CX_SCAN_BUDGET_MS:-4000}
as_of=${CX_SCAN_AS_OF:-2026-01-01}
[ -d "$store" ] || { echo "bench/scan.sh: no store at $store (bench/run.sh medium makes one)" >&2; exit 1; }
made_csv=0
cxb_on_exit() { if [ $made_csv = 1 ] && [ "${CX_SCAN_KEEP:-0}" != 1 ]; then rm -f "$csv"; fi; }
cxb_build bench_query
duck=1
cxb_duckdb || duck=0
if [ $duck = 1 ] && [ ! -s "$csv" ]; then
  say "export the rows for DuckDB to $csv"
  made_csv=1
  "$bin/bench_query" --db "$store" --export-csv "$csv" >&2
fi

files=()
for i in $(seq 1 "$runs"); do
  la0=$(cut -d' ' -f1-3 /proc/loadavg)
  say "run $i/$runs (load average $la0)"
  "$bin/bench_query" --db "$store" --seed "$seed" --iters "$iters" --budget-ms "$budget" --as-of "$as_of" \
    --ops floor_facts,agg_in_force --no-sqlite --json "$work/query-$i.json" --label "scan-$i"
  if [ $duck = 1 ]; then
    node "$root/bench/duckdb/agg.mjs" "$csv" "$work/query-$i.json" "$work/duckdb-$i.json" "$budget"
    jq --slurpfile d "$work/duckdb-$i.json" '.ops += $d[0].ops | . + {duckdb: ($d[0] | del(.ops))}' \
      "$work/query-$i.json" > "$work/q.json"
    mv "$work/q.json" "$work/query-$i.json"
  fi
  la1=$(cut -d' ' -f1-3 /proc/loadavg)
  jq --arg a "$la0" --arg b "$la1" '. + {load_before: $a, load_after: $b}' "$work/query-$i.json" > "$work/run-$i.json"
  files+=("$work/run-$i.json")
done

# Alternating rounds (CX_SCAN_ROUNDS, default 0 = none): DuckDB loads the rows once, then each
# round runs a short bench_query of the scans and DuckDB's query in turn, so both meet the
# same load on a shared machine; the median of the rounds' ratios goes into the JSON.
rounds=${CX_SCAN_ROUNDS:-0}
if [ $duck = 1 ] && [ "$rounds" -gt 0 ]; then
  say "$rounds alternating rounds"
  node "$root/bench/duckdb/rounds.mjs" "$csv" "$work/rounds.json" "$rounds" "${CX_SCAN_ROUND_ITERS:-7}" -- \
    "$bin/bench_query" --db "$store" --seed "$seed" --iters "${CX_SCAN_ROUND_ITERS:-7}" --budget-ms 1500 \
    --as-of "$as_of" --ops floor_facts,agg_in_force --no-sqlite --pool 1000 --label scan-round --json
fi
[ -s "$work/rounds.json" ] || echo '{"skipped": "no rounds"}' > "$work/rounds.json"

out=$resdir/$(date -u +%Y-%m-%d)-scan-$(date -u +%H%M).json
jq -s --slurpfile rounds "$work/rounds.json" --arg cmd "bench/scan.sh (runs=$runs, rounds=$rounds)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --argjson cores "$(nproc)" \
  --arg commit "$(cxb_commit)" '
  def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def op($r; $n): $r.ops | map(select(.op == $n))[0].median_ns;
  . as $runs
  | ($runs[0].ops | map(.op)) as $names
  | {bench: "scan", date: $date, command: $cmd, commit: $commit, cpu: $cpu, cores: $cores,
     store: $runs[0].db, records: $runs[0].records, entities: $runs[0].entities,
     agg: $runs[0].agg, duckdb: $runs[0].duckdb,
     medians: ($names | map(. as $n | {op: $n,
        median_ns: ($runs | map(.ops[] | select(.op == $n) | .median_ns) | med),
        p99_ns: ($runs | map(.ops[] | select(.op == $n) | .p99_ns) | med),
        ratio: ($runs | map(.ops[] | select(.op == $n) | .ratio // empty) | med)})),
     # per run, then the median over the runs: DuckDB / chengxin (>= 1: chengxin is as fast),
     # the split scan / floor_facts, one thread / two
     ratios: {duckdb_over_scan: ($runs | map((op(.; "duckdb_in_force") // null) as $d
                                  | if $d then $d / op(.; "agg_in_force") else empty end) | med),
              scan_over_floor_facts: ($runs | map(op(.; "agg_in_force") / op(.; "floor_facts")) | med),
              scan_over_floor_facts_2t: ($runs | map(op(.; "agg_in_force") / op(.; "floor_facts_2t")) | med),
              one_thread_over_split: ($runs | map(op(.; "agg_in_force_1t") / op(.; "agg_in_force")) | med)},
     rounds: $rounds[0], runs: $runs}' "${files[@]}" > "$out"
say "wrote $out"
jq -r '.medians[] | "\(.op)\tmedian \(.median_ns) ns\tp99 \(.p99_ns) ns\tratio \(.ratio // "-")"' "$out"
jq -r '.ratios | to_entries[] | "\(.key)\t\(.value)"' "$out"
