#!/usr/bin/env bash
# bench/scorecard.sh — issue 18 "Speed": one body's scorecard and every body of a province
# ranked, beside the same ranking in SQLite and in DuckDB from the same rows, in the same run
# (docs/benchmarks.md, "Scorecards (issue 18)").
#
#   1. builds Release into build-release/ (bench_query) unless CX_BENCH_BIN is given;
#   2. takes the store CX_SCORECARD_STORE (default: the medium store bench/run.sh and
#      bench/site.sh leave under $CX_BENCH_DATA); it is never generated here;
#   3. exports the rows once for DuckDB (`bench_query --export-csv`, ~0.8 GB at medium; kept
#      next to the SQLite copy for later runs when CX_SCORECARD_KEEP=1);
#   4. CX_SCORECARD_RUNS runs (default 3), each: bench_query --ops scorecard_one,
#      scorecard_province,sqlite_scorecard_province (the SQLite copy is built once at
#      CX_SCORECARD_SQLITE and reopened by the later runs with --sqlite-reuse), chengxin's
#      ranking to JSON, then node bench/duckdb/agg.mjs on the exported rows (DuckDB loads them
#      in every run), whose ranking is checked against chengxin's;
#   5. writes bench/results/<date>-scorecard-<HHMM>.json: every run's ops, the load average
#      before and after each, and the medians over the runs.
# Never asserts a figure; exits non-zero when a run fails or a ranking differs.
. "$(dirname "$0")/common.sh" scorecard
store=${CX_SCORECARD_STORE:-$data/http-e1000000-r10000000-s42/store}
sqlite=${CX_SCORECARD_SQLITE:-$data/scorecard-sqlite.db}
csv=${CX_SCORECARD_CSV:-$data/scorecard-rows.csv}
runs=${CX_SCORECARD_RUNS:-3}
iters=${CX_SCORECARD_ITERS:-200000}
budget=${CX_SCORECARD_BUDGET_MS:-4000}
[ -d "$store" ] || { echo "bench/scorecard.sh: no store at $store (bench/run.sh medium makes one)" >&2; exit 1; }
cxb_on_exit() { if [ "${CX_SCORECARD_KEEP:-0}" != 1 ]; then rm -f "$csv"; fi; }
cxb_build bench_query
duck=1
cxb_duckdb || duck=0
if [ $duck = 1 ] && [ ! -s "$csv" ]; then
  say "export the rows for DuckDB to $csv"
  "$bin/bench_query" --db "$store" --export-csv "$csv" >&2
fi

files=()
for i in $(seq 1 "$runs"); do
  la0=$(cut -d' ' -f1-3 /proc/loadavg)
  say "run $i/$runs (load average $la0)"
  "$bin/bench_query" --db "$store" --seed "$seed" --iters "$iters" --budget-ms "$budget" \
    --ops scorecard_one,scorecard_province,sqlite_scorecard_province \
    --sqlite "$sqlite" --sqlite-reuse --scorecard-json "$work/ranking-$i.json" \
    --json "$work/query-$i.json" --label "scorecard-$i"
  if [ $duck = 1 ]; then
    node "$root/bench/duckdb/agg.mjs" "$csv" "$work/query-$i.json" "$work/duckdb-$i.json" "$budget" \
      "$work/ranking-$i.json" "$root/data/scorecard.tsv"
    jq --slurpfile d "$work/duckdb-$i.json" '.ops += $d[0].ops | . + {duckdb: ($d[0] | del(.ops))}' \
      "$work/query-$i.json" > "$work/q.json"
    mv "$work/q.json" "$work/query-$i.json"
  fi
  la1=$(cut -d' ' -f1-3 /proc/loadavg)
  jq --arg a "$la0" --arg b "$la1" '. + {load_before: $a, load_after: $b}' "$work/query-$i.json" > "$work/run-$i.json"
  files+=("$work/run-$i.json")
done

out=$resdir/$(date -u +%Y-%m-%d)-scorecard-$(date -u +%H%M).json
jq -s --arg cmd "bench/scorecard.sh (runs=$runs)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --argjson cores "$(nproc)" \
  --arg commit "$(cxb_commit)" '
  def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  . as $runs
  | ($runs[0].ops | map(.op)) as $names
  | {bench: "scorecard", date: $date, command: $cmd, commit: $commit, cpu: $cpu, cores: $cores,
     store: $runs[0].db, records: $runs[0].records, entities: $runs[0].entities,
     scorecard: $runs[0].scorecard, sqlite_load: $runs[0].sqlite_load, duckdb: $runs[0].duckdb,
     medians: ($names | map(. as $n | {op: $n,
        median_ns: ($runs | map(.ops[] | select(.op == $n) | .median_ns) | med),
        p99_ns: ($runs | map(.ops[] | select(.op == $n) | .p99_ns) | med),
        ratio: ($runs | map(.ops[] | select(.op == $n) | .ratio // empty) | med)})),
     runs: $runs}' "${files[@]}" > "$out"
say "wrote $out"
jq -r '.medians[] | "\(.op)\tmedian \(.median_ns) ns\tp99 \(.p99_ns) ns\tratio \(.ratio // "-")"' "$out"
