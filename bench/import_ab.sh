#!/usr/bin/env bash
# bench/import_ab.sh — two chengxin binaries side by side on the same import onto a populated
# store, in alternating pairs (A B A B ...), each onto a fresh copy of the same store
# (docs/benchmarks.md, "Import: second pass (issue 20 goal 1)").
#
#   CX_AB_A=DIR CX_AB_B=DIR CX_AB_STORE=STORE CX_AB_CSV=FILE bench/import_ab.sh
#
# Per run: wall seconds, user + system CPU and peak RSS (/usr/bin/time), bytes written (its
# "File system outputs"), the load average, and, when perf is there, the CPU seconds of each
# thread (`perf record -F 499` attached to the process; samples / 499): an import's writer
# thread is its critical path, and on a shared machine its CPU is steadier than the wall time.
# Writes bench/results/<date>-import-ab.json (CX_AB_OUT) and prints one line per run and the
# medians. Never asserts a figure; exits non-zero when an import fails.
#
# Environment: CX_AB_A, CX_AB_B (directories holding chengxin; A is the baseline), CX_AB_STORE
# (the store each run copies; bench/import.sh with CX_IMP_WORK keeps one), CX_AB_CSV (the rows:
# e.g. the 1M CSV of bench/import.sh step 3), CX_AB_PAIRS (3), CX_AB_ARGS (extra arguments of
# chengxin import for both), CX_AB_WORK (scratch directory, default a new /tmp/cx_bench_ab.*;
# one copy of the store, deleted at the end).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir_a=${CX_AB_A:?CX_AB_A: the directory of the baseline chengxin}
dir_b=${CX_AB_B:?CX_AB_B: the directory of the chengxin to compare}
store=${CX_AB_STORE:?CX_AB_STORE: the store to import onto}
csv=${CX_AB_CSV:?CX_AB_CSV: the CSV to import}
pairs=${CX_AB_PAIRS:-3}
args=${CX_AB_ARGS:-}
work=${CX_AB_WORK:-$(mktemp -d /tmp/cx_bench_ab.XXXXXX)}
out=${CX_AB_OUT:-$root/bench/results/$(date -u +%Y-%m-%d)-import-ab.json}
export CHENGXIN_TEST_CLOCK_MS=${CHENGXIN_TEST_CLOCK_MS:-$(($(date +%s) * 1000))}
mkdir -p "$work"
trap 'rm -rf "$work/db"' EXIT
for t in jq /usr/bin/time; do command -v "$t" >/dev/null || { echo "bench/import_ab.sh needs $t" >&2; exit 1; }; done
have_perf=0
if command -v perf >/dev/null && perf record -o /dev/null -F 99 true >/dev/null 2>&1; then have_perf=1; fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run LABEL DIR: one import onto a fresh copy of the store; prints one JSON object
run() {
  local label=$1 dir=$2
  rm -rf "$work/db" && cp -r "$store" "$work/db" && sync
  local l0 l1 pid perfpid threads="[]"
  l0=$(cut -d' ' -f1 /proc/loadavg)
  # shellcheck disable=SC2086 # CX_AB_ARGS is a list of arguments
  /usr/bin/time -f "%e %U %S %M %O" -o "$work/time" "$dir/chengxin" import --quiet $args --db "$work/db" "$csv" \
    > "$work/out" 2> "$work/err" &
  local tp=$!
  if [ "$have_perf" = 1 ]; then
    sleep 0.05
    pid=$(pgrep -P "$tp" || true)
    if [ -n "$pid" ]; then
      perf record -q -F 499 -p "$pid" -o "$work/perf.data" > /dev/null 2>&1 &
      perfpid=$!
    fi
  fi
  wait "$tp" || { cat "$work/err" >&2; echo "bench/import_ab.sh: FAILED: $label" >&2; exit 1; }
  if [ -n "${perfpid:-}" ]; then
    wait "$perfpid" 2> /dev/null || true
    threads=$(perf script -i "$work/perf.data" -F tid 2> /dev/null | sort | uniq -c | sort -rn |
      awk '{printf "%s%.2f", (NR > 1 ? "," : "["), $1 / 499} END {print (NR ? "]" : "[]")}')
    rm -f "$work/perf.data"
  fi
  l1=$(cut -d' ' -f1 /proc/loadavg)
  local e u s m o
  read -r e u s m o < "$work/time"
  jq -n --arg side "$label" --argjson e "$e" --argjson u "$u" --argjson s "$s" --argjson m "$m" \
    --argjson o "$o" --arg l0 "$l0" --arg l1 "$l1" --argjson t "$threads" '
    {binary: $side, seconds: $e, cpu_seconds: (($u + $s) * 100 | round / 100), peak_rss_kb: $m, written_mb: ($o * 512 / 1e6 | floor),
     load_before: $l0, load_after: $l1, thread_cpu_seconds: $t}'
}

: > "$work/runs.json"
for k in $(seq 1 "$pairs"); do
  for side in A B; do
    if [ "$side" = A ]; then dir=$dir_a; else dir=$dir_b; fi
    r=$(run "$side" "$dir")
    echo "$r" >> "$work/runs.json"
    echo "$r" | jq -r '"\(.binary): \(.seconds) s, CPU \(.cpu_seconds) s, threads \(.thread_cpu_seconds), RSS \(.peak_rss_kb / 1024 | floor) MiB, written \(.written_mb) MB, load \(.load_before)-\(.load_after)"' >&2
  done
done
rows=$(($(wc -l < "$csv") - 1))
jq -s --arg a "$dir_a" --arg b "$dir_b" --arg store "$store" --arg csv "$csv" --argjson rows "$rows" --arg args "$args" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg lb "$load_before" --arg la "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg commit "$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)" '
  def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def side($x): [.[] | select(.binary == $x)];
  def sum_of($x): {seconds: (side($x) | map(.seconds) | med), cpu_seconds: (side($x) | map(.cpu_seconds) | med),
                   writer_cpu_seconds: (side($x) | map(.thread_cpu_seconds[0] // null) | if any(. == null) then null else med end),
                   rows_per_s: ($rows / (side($x) | map(.seconds) | med))};
  {command: "bench/import_ab.sh", date: $date, commit: $commit, a: $a, b: $b, store: $store, csv: $csv,
   rows: $rows, args: $args, load_before: $lb, load_after: $la, runs: .,
   median: {a: sum_of("A"), b: sum_of("B")},
   ratio_b_to_a: {seconds: (sum_of("B").seconds / sum_of("A").seconds),
                  cpu: (sum_of("B").cpu_seconds / sum_of("A").cpu_seconds)}}' "$work/runs.json" > "$out"
jq -r '"medians: A \(.median.a.seconds) s (\(.median.a.rows_per_s | floor) rows/s, CPU \(.median.a.cpu_seconds) s, writer \(.median.a.writer_cpu_seconds) s); B \(.median.b.seconds) s (\(.median.b.rows_per_s | floor) rows/s, CPU \(.median.b.cpu_seconds) s, writer \(.median.b.writer_cpu_seconds) s); B/A wall \(.ratio_b_to_a.seconds * 1000 | floor / 1000), CPU \(.ratio_b_to_a.cpu * 1000 | floor / 1000)"' "$out"
echo "wrote $out" >&2
