#!/usr/bin/env bash
# bench/import.sh — `chengxin import` of the generator's CSV beside SQLite's `.import` of the
# same file, in the same run (issue 20 goal 1; docs/benchmarks.md, "Import (issue 20 goal 1)").
#
#   1. builds Release into build-release/ (chengxin);
#   2. per size (CX_IMP_SIZES, default "1000000"; "1000000 10000000" for the medium point):
#      `chengxin gen --out` of SIZE records (SIZE/10 entities, seed CX_BENCH_SEED) into a CSV;
#      then, each timed with /usr/bin/time (wall seconds, peak RSS):
#        chengxin: `chengxin init` + `chengxin import` into a new store (every index, summary,
#                  rollup and fact; the bulk load, `--builder auto`), then `chengxin verify`
#                  (not timed; a failed verify fails the run);
#        row path: the same with `--builder row` (batch by batch, as before the bulk load), its
#                  `verify --digest` compared with the bulk load's (CX_IMP_ROW=0: skipped);
#        sqlite3:  `.mode csv`, `.import` into a new table, then a unique index on
#                  (authority_code, record_id) and an index on entity_code;
#      rows/s, the ratio chengxin/sqlite (of rows/s), bytes on disk of each;
#   3. with the largest size: 1M new records onto its store (the 1M CSV of seed CX_BENCH_SEED,
#      record_id prefixed so that every row is a new record), timed the same way;
#   4. writes bench/results/<date>-import.json and prints the figures.
# Never asserts a figure; exits non-zero when an import fails or its store does not verify.
#
# Environment: CX_BENCH_BIN=DIR (binaries from DIR, no build), CX_BENCH_SEED (42),
# CX_IMP_SIZES ("1000000"), CX_IMP_WORK (scratch directory, default a new /tmp/cx_bench_import.*;
# ~330 B of CSV and ~1.3 KB of stores per record, deleted at the end), CX_IMP_ARGS (extra
# arguments of chengxin import, e.g. "--threads 1"), CX_IMP_ROW (1: the row path beside the bulk
# load, the default), CX_IMP_ONTO (1: step 3, the default),
# CX_IMP_ONTO_RECORDS (1000000: the records of step 3), CX_IMP_OUT (the JSON's path: a second run
# of the day would overwrite the first's).
work=${CX_IMP_WORK:-}
. "$(dirname "$0")/common.sh" import sqlite3 /usr/bin/time
sizes=${CX_IMP_SIZES:-1000000}
args=${CX_IMP_ARGS:-}
onto=${CX_IMP_ONTO:-1}
row=${CX_IMP_ROW:-1}
export CHENGXIN_TEST_CLOCK_MS=${CHENGXIN_TEST_CLOCK_MS:-$(($(date +%s) * 1000))} # one clock: equal digests
cxb_build chengxin

# timed NAME CMD...: runs CMD under /usr/bin/time -v; sets secs, rss_kb (peak RSS: VmHWM, the
# file pages of a mapped store included), cpu (user + system seconds), anon_kb (the largest RssAnon seen, sampled every
# 0.2 s: the process's own memory, without the page cache it maps) and load (the load average
# when it ended). The command's stderr is in $work/NAME.err.
timed() {
  local name=$1
  shift
  local t0 t1 tp child a max_anon=0
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  tp=$!
  while kill -0 "$tp" 2>/dev/null; do
    for child in $(pgrep -P "$tp" 2>/dev/null) $(pgrep -P "$(pgrep -P "$tp" 2>/dev/null | head -1)" 2>/dev/null); do
      a=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$child/status" 2>/dev/null || true)
      if [ -n "$a" ] && [ "$a" -gt "$max_anon" ]; then max_anon=$a; fi
    done
    sleep 0.2
  done
  wait "$tp" || { cat "$work/$name.err" >&2; echo "bench/import.sh: FAILED: $name" >&2; exit 1; }
  t1=$(date +%s.%N)
  secs=$(echo "$t1 - $t0" | bc -l)
  rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/$name.time")
  # CPU seconds (user + system): steadier than wall time on a shared VM, where a commit's
  # fsync can wait a second behind other processes' I/O
  cpu=$(awk -F': *' '/User time|System time/ {s += $2} END {print s}' "$work/$name.time")
  anon_kb=$max_anon
  load=$(cut -d' ' -f1-3 /proc/loadavg)
}

# the baseline, as issue 20 states it: SQLITE_ARGS CSV -> the arguments of sqlite3 after the
# database (each one a command, run in order)
sqlite_args() {
  printf '%s\n' ".mode csv" ".import $1 records" \
    "CREATE UNIQUE INDEX records_ref ON records(authority_code, record_id);" \
    "CREATE INDEX records_entity ON records(entity_code);"
}

results=()
largest=
for n in $sizes; do
  ent=$((n / 10))
  csv=$work/gen-$n.csv
  say "chengxin gen --out ($ent entities, $n records, seed $seed)"
  "$bin/chengxin" gen --out "$csv" --entities "$ent" --records "$n" --seed "$seed" --quiet
  csv_bytes=$(stat -c %s "$csv")

  say "chengxin import ($n records, new store)"
  rm -rf "$work/cx-$n"
  "$bin/chengxin" init --db "$work/cx-$n" > /dev/null 2>&1
  # shellcheck disable=SC2086 # CX_IMP_ARGS is a list of arguments
  timed "cx-$n" "$bin/chengxin" import --quiet $args --db "$work/cx-$n" "$csv"
  cx_secs=$secs cx_rss=$rss_kb cx_anon=$anon_kb cx_load=$load cx_cpu=$cpu
  cx_bytes=$(du -s -B1 "$work/cx-$n" | cut -f1)
  "$bin/chengxin" verify --db "$work/cx-$n" --quiet ||
    { echo "bench/import.sh: FAILED: the imported store does not verify" >&2; exit 1; }
  rw_secs=0 rw_rss=0 rw_anon=0 rw_load= rw_cpu=0 rw_bytes=0 same=null
  if [ "$row" = 1 ]; then
    say "chengxin import --builder row ($n records, new store)"
    rm -rf "$work/rw-$n"
    "$bin/chengxin" init --db "$work/rw-$n" > /dev/null 2>&1
    # shellcheck disable=SC2086
    timed "rw-$n" "$bin/chengxin" import --quiet --builder row $args --db "$work/rw-$n" "$csv"
    rw_secs=$secs rw_rss=$rss_kb rw_anon=$anon_kb rw_load=$load rw_cpu=$cpu
    rw_bytes=$(du -s -B1 "$work/rw-$n" | cut -f1)
    d_bulk=$("$bin/chengxin" verify --db "$work/cx-$n" --digest --quiet)
    d_row=$("$bin/chengxin" verify --db "$work/rw-$n" --digest --quiet)
    if [ "$d_bulk" = "$d_row" ]; then same=true; else
      echo "bench/import.sh: FAILED: the bulk load and the row path differ ($d_bulk, $d_row)" >&2; exit 1
    fi
    rm -rf "$work/rw-$n"
  fi

  say "sqlite3 .import + 2 indexes ($n records)"
  rm -f "$work/sq-$n.db"
  mapfile -t sq_args < <(sqlite_args "$csv")
  timed "sq-$n" sqlite3 "$work/sq-$n.db" "${sq_args[@]}"
  sq_secs=$secs sq_rss=$rss_kb sq_anon=$anon_kb sq_load=$load sq_cpu=$cpu
  sq_bytes=$(stat -c %s "$work/sq-$n.db")
  sq_rows=$(sqlite3 "$work/sq-$n.db" 'SELECT count(*) FROM records')
  rm -f "$work/sq-$n.db"

  jq -n --argjson n "$n" --argjson e "$ent" --argjson csvb "$csv_bytes" \
    --argjson cs "$cx_secs" --argjson cr "$cx_rss" --argjson cb "$cx_bytes" --arg cl "$cx_load" \
    --argjson ss "$sq_secs" --argjson sr "$sq_rss" --argjson sb "$sq_bytes" --arg sl "$sq_load" \
    --argjson ca "$cx_anon" --argjson sa "$sq_anon" --argjson cc "$cx_cpu" --argjson sc "$sq_cpu" \
    --argjson sn "$sq_rows" --arg args "$args" \
    --argjson rs "$rw_secs" --argjson rr "$rw_rss" --argjson ra "$rw_anon" --arg rl "$rw_load" \
    --argjson rc "$rw_cpu" --argjson rb "$rw_bytes" --argjson same "$same" '
    {what: "new store", records: $n, entities: $e, csv_bytes: $csvb,
     chengxin: {args: $args, builder: "auto (bulk load)", seconds: $cs, cpu_seconds: $cc, rows_per_s: ($n / $cs), peak_rss_kb: $cr, peak_anon_kb: $ca, store_bytes: $cb,
                bytes_per_record: ($cb / $n), load_after: $cl},
     row_path: (if $rs > 0 then {args: ("--builder row " + $args), seconds: $rs, cpu_seconds: $rc, rows_per_s: ($n / $rs),
                peak_rss_kb: $rr, peak_anon_kb: $ra, store_bytes: $rb, load_after: $rl, same_digest: $same,
                bulk_speedup: ($rs / $cs)} else null end),
     sqlite: {seconds: $ss, cpu_seconds: $sc, rows_per_s: ($sn / $ss), rows: $sn, peak_rss_kb: $sr, peak_anon_kb: $sa, db_bytes: $sb,
              bytes_per_record: ($sb / $sn), load_after: $sl},
     ratio: (($n / $cs) / ($sn / $ss)), cpu_ratio: ($sc / $cc)}' > "$work/res-$n.json"
  results+=("$work/res-$n.json")
  jq -c . "$work/res-$n.json" >&2
  if [ -n "$largest" ]; then rm -rf "$work/cx-$largest"; rm -f "$work/gen-$largest.csv"; fi
  largest=$n
done

if [ "$onto" = 1 ] && [ -n "$largest" ]; then
  # 1M new records: the 1M CSV of the same seed, every record_id prefixed (column 4 is never
  # quoted in the generator's output, so a split on commas rewrites only it)
  m=${CX_IMP_ONTO_RECORDS:-1000000}
  say "chengxin import: $m new records onto the $largest-record store"
  "$bin/chengxin" gen --out "$work/onto.src.csv" --entities $((m / 10)) --records "$m" --seed "$seed" --quiet
  awk -F, -v OFS=, 'NR > 1 { $4 = "新" $4 } { print }' "$work/onto.src.csv" > "$work/onto.csv"
  rm -f "$work/onto.src.csv" "$work/gen-$largest.csv"
  before_bytes=$(du -s -B1 "$work/cx-$largest" | cut -f1)
  # shellcheck disable=SC2086
  timed onto "$bin/chengxin" import $args --db "$work/cx-$largest" "$work/onto.csv"
  on_secs=$secs on_rss=$rss_kb on_anon=$anon_kb on_load=$load on_cpu=$cpu
  summary=$(grep '^import:' "$work/onto.err" || true)
  on_bytes=$(du -s -B1 "$work/cx-$largest" | cut -f1)
  "$bin/chengxin" verify --db "$work/cx-$largest" --quiet ||
    { echo "bench/import.sh: FAILED: the store does not verify after the second import" >&2; exit 1; }
  jq -n --argjson n "$m" --argjson base "$largest" --argjson s "$on_secs" --argjson r "$on_rss" \
    --argjson a "$on_anon" --argjson c "$on_cpu" \
    --argjson b0 "$before_bytes" --argjson b1 "$on_bytes" --arg l "$on_load" --arg sum "$summary" \
    --arg args "$args" '
    {what: "onto a populated store", records: $n, store_records_before: $base,
     chengxin: {args: $args, seconds: $s, cpu_seconds: $c, rows_per_s: ($n / $s), peak_rss_kb: $r, peak_anon_kb: $a, store_bytes_before: $b0,
                store_bytes_after: $b1, load_after: $l, summary: $sum}}' > "$work/res-onto.json"
  results+=("$work/res-onto.json")
  jq -c . "$work/res-onto.json" >&2
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
out=${CX_IMP_OUT:-$resdir/$date_utc-import.json}
jq -n --arg cmd "bench/import.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(cxb_commit)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg mem "$(free -b | awk '/^Mem:/ {print $2}')" --arg sq "$(sqlite3 --version | cut -d' ' -f1)" \
  --arg lb "$load_before" --arg la "$load_after" --argjson seed "$seed" \
  --slurpfile r <(cat "${results[@]}") '
  {command: $cmd, date: $date, commit: $commit, seed: $seed, sqlite_version: $sq,
   machine: {cpu: $cpu, cores: ($cores | tonumber), mem_bytes: ($mem | tonumber), load_before: $lb,
             load_after: $la},
   runs: $r}' > "$out"
say "wrote $out"
jq -r '"load average before \(.machine.load_before), after \(.machine.load_after)",
  (.runs[] | if .what == "new store" then
     (if .row_path then "\(.records) records, new store, row path (--builder row): \(.row_path.seconds * 100 | floor / 100) s (\(.row_path.rows_per_s | floor) rows/s, peak RSS \(.row_path.peak_rss_kb / 1024 | floor) MiB, CPU \(.row_path.cpu_seconds) s); the bulk load \(.row_path.bulk_speedup * 100 | floor / 100)x faster, same digest: \(.row_path.same_digest)" else empty end),
     "\(.records) records, new store: chengxin \(.chengxin.seconds * 100 | floor / 100) s (\(.chengxin.rows_per_s | floor) rows/s, peak RSS \(.chengxin.peak_rss_kb / 1024 | floor) MiB (own \(.chengxin.peak_anon_kb / 1024 | floor) MiB), \(.chengxin.bytes_per_record | floor) B/record); sqlite3 \(.sqlite.seconds * 100 | floor / 100) s (\(.sqlite.rows_per_s | floor) rows/s, peak RSS \(.sqlite.peak_rss_kb / 1024 | floor) MiB, \(.sqlite.bytes_per_record | floor) B/record); ratio \(.ratio * 100 | floor / 100) (CPU: chengxin \(.chengxin.cpu_seconds) s, sqlite3 \(.sqlite.cpu_seconds) s, ratio \(.cpu_ratio * 100 | floor / 100))"
   else
     "\(.records) new records onto the \(.store_records_before)-record store: \(.chengxin.seconds * 100 | floor / 100) s (\(.chengxin.rows_per_s | floor) rows/s, peak RSS \(.chengxin.peak_rss_kb / 1024 | floor) MiB (own \(.chengxin.peak_anon_kb / 1024 | floor) MiB))"
   end)' "$out"
