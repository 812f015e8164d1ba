#!/usr/bin/env bash
# bench/size.sh — bytes on disk of a chengxin store beside SQLite's file for the same rows
# (issue 20 goal 2; docs/benchmarks.md, "Size (issue 20 goal 2)").
#
#   1. builds Release into build-release/ (chengxin);
#   2. per size (CX_SIZE_SIZES, default "1000000"; "1000000 10000000" for the medium point):
#      `chengxin gen --out` of SIZE records (SIZE/10 entities, seed CX_BENCH_SEED) into a CSV;
#      chengxin: `chengxin init` + `chengxin import` into a new store, `chengxin verify`;
#        the file as the import left it (data.mdb, with LMDB's free pages), the per-database
#        breakdown (`mdb_stat -a`: branch + leaf + overflow pages of each DB) and the free
#        pages (`mdb_stat -f`); then `chengxin compact` (a logical copy: full pages, record
#        values packed again) and the file and breakdown again;
#      sqlite3: `.mode csv`, `.import` into a new table (every column as text), a unique index
#        on (authority_code, record_id) and an index on entity_code (bench/import.sh's
#        commands); the file, and its per-table/index breakdown (the dbstat table);
#      the ratios chengxin/sqlite of the compacted store and of the file as imported;
#   3. with CX_SIZE_BASE_BIN=DIR (e.g. a Release build of main): the same CSV imported by that
#      build too, its file, breakdown and compacted file beside, and whether both stores hold
#      the same content (`chengxin export` of each, without its audit, header and trailer
#      lines — the audit log has each import's time —, byte-equal: content_equal);
#   4. writes bench/results/<date>-size.json and prints the figures.
# Never asserts a figure; exits non-zero when an import fails or its store does not verify.
#
# Environment: CX_BENCH_BIN=DIR (binaries from DIR, no build), CX_BENCH_SEED (42),
# CX_SIZE_SIZES ("1000000"), CX_SIZE_BASE_BIN (none), CX_SIZE_WORK (scratch directory, default
# a new /tmp/cx_bench_size.*: ~330 B of CSV and ~1.5 KB of stores per record, deleted at the
# end).
work=${CX_SIZE_WORK:-}
. "$(dirname "$0")/common.sh" size sqlite3 mdb_stat   # mdb_stat: Debian lmdb-utils
base=${CX_SIZE_BASE_BIN:-}
sizes=${CX_SIZE_SIZES:-1000000}
cxb_build chengxin

# dbs STORE: {"<db>": bytes, ...} from mdb_stat -a (pages of each named DB, page size from -e)
dbs() {
  local ps
  ps=$(mdb_stat -e "$1" | awk '/Page size:/ {print $3}')
  mdb_stat -a "$1" | awk -v ps="$ps" '
    /^Status of / { if (db != "") printf "%s\t%d\n", db, pages * ps; db = $3; pages = 0 }
    /Branch pages:|Leaf pages:|Overflow pages:/ { pages += $3 }
    END { if (db != "") printf "%s\t%d\n", db, pages * ps }' |
    jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): (.[1] | tonumber)}) | add'
}
# free_bytes STORE: LMDB's free pages (reusable by later writes, inside the file)
free_bytes() {
  local ps
  ps=$(mdb_stat -e "$1" | awk '/Page size:/ {print $3}')
  mdb_stat -ef "$1" | awk -v ps="$ps" '/Free pages:/ {print $3 * ps}'
}
# store BIN DIR CSV NAME: imports CSV into a new store DIR with BIN; writes $work/NAME.json
store() {
  local b=$1 d=$2 csv=$3 name=$4 t0 t1 file
  rm -rf "$d"
  "$b/chengxin" init --db "$d" > /dev/null 2>&1
  t0=$(date +%s.%N)
  "$b/chengxin" import --quiet --db "$d" "$csv"
  t1=$(date +%s.%N)
  "$b/chengxin" verify --db "$d" --quiet ||
    { echo "bench/size.sh: FAILED: the store $name does not verify" >&2; exit 1; }
  file=$(stat -c %s "$d/data.mdb")
  dbs "$d" > "$work/$name.dbs.json"
  local fr
  fr=$(free_bytes "$d")
  "$b/chengxin" compact --db "$d" > /dev/null 2>&1
  local comp
  comp=$(stat -c %s "$d/data.mdb")
  dbs "$d" > "$work/$name.cdbs.json"
  jq -n --argjson file "$file" --argjson free "$fr" --argjson comp "$comp" \
    --argjson secs "$(echo "$t1 - $t0" | bc -l)" --slurpfile dbs "$work/$name.dbs.json" \
    --slurpfile cdbs "$work/$name.cdbs.json" --arg ver "$("$b/chengxin" --version 2>/dev/null | head -1)" \
    '{version: $ver, import_seconds: $secs, file_bytes: $file, free_bytes: $free,
      compacted_bytes: $comp, dbs: $dbs[0], dbs_compacted: $cdbs[0]}' > "$work/$name.json"
}

results=()
for n in $sizes; do
  ent=$((n / 10))
  csv=$work/gen-$n.csv
  say "chengxin gen --out ($ent entities, $n records, seed $seed)"
  "$bin/chengxin" gen --out "$csv" --entities "$ent" --records "$n" --seed "$seed" --quiet
  csv_bytes=$(stat -c %s "$csv")

  say "chengxin import ($n records)"
  store "$bin" "$work/cx-$n" "$csv" "cx-$n"
  if [ -n "$base" ]; then
    say "baseline chengxin import ($n records, $base)"
    store "$base" "$work/base-$n" "$csv" "base-$n"
    strip() { "$1/chengxin" export --db "$2" --quiet | grep -v -E '^\{"type":"(audit|header|trailer)"' | sha256sum | cut -d' ' -f1; }
    same=false
    [ "$(strip "$bin" "$work/cx-$n")" = "$(strip "$base" "$work/base-$n")" ] && same=true
    jq --argjson same "$same" '. + {content_equal: $same}' "$work/base-$n.json" > "$work/base-$n.j2"
    mv "$work/base-$n.j2" "$work/base-$n.json"
    rm -rf "$work/base-$n"
  else
    echo null > "$work/base-$n.json"
  fi
  rm -rf "$work/cx-$n"

  say "sqlite3 .import + 2 indexes ($n records)"
  rm -f "$work/sq-$n.db"
  sqlite3 "$work/sq-$n.db" ".mode csv" ".import $csv records" \
    "CREATE UNIQUE INDEX records_ref ON records(authority_code, record_id);" \
    "CREATE INDEX records_entity ON records(entity_code);"
  sq_bytes=$(stat -c %s "$work/sq-$n.db")
  sq_rows=$(sqlite3 "$work/sq-$n.db" 'SELECT count(*) FROM records')
  sqlite3 -separator $'\t' "$work/sq-$n.db" 'SELECT name, SUM(pgsize) FROM dbstat GROUP BY name' |
    jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): (.[1] | tonumber)}) | add' \
    > "$work/sq-$n.dbs.json"
  rm -f "$work/sq-$n.db" "$csv"

  jq -n --argjson n "$n" --argjson e "$ent" --argjson csvb "$csv_bytes" \
    --slurpfile cx "$work/cx-$n.json" --slurpfile bs "$work/base-$n.json" \
    --argjson sb "$sq_bytes" --argjson sn "$sq_rows" --slurpfile sd "$work/sq-$n.dbs.json" '
    {records: $n, entities: $e, csv_bytes: $csvb,
     chengxin: ($cx[0] + {bytes_per_record: ($cx[0].compacted_bytes / $n),
                          file_bytes_per_record: ($cx[0].file_bytes / $n)}),
     baseline: (if $bs[0] == null then null else
                ($bs[0] + {bytes_per_record: ($bs[0].compacted_bytes / $n),
                           file_bytes_per_record: ($bs[0].file_bytes / $n)}) end),
     sqlite: {file_bytes: $sb, rows: $sn, bytes_per_record: ($sb / $sn), dbs: $sd[0]},
     ratio_compacted: ($cx[0].compacted_bytes / $sb), ratio_file: ($cx[0].file_bytes / $sb)}' \
    > "$work/res-$n.json"
  results+=("$work/res-$n.json")
  jq -c '{records, ratio_compacted, ratio_file}' "$work/res-$n.json" >&2
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
out=$resdir/$date_utc-size.json
jq -n --arg cmd "bench/size.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(cxb_commit)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg sq "$(sqlite3 --version | cut -d' ' -f1)" --arg base "$base" \
  --arg lb "$load_before" --arg la "$load_after" --argjson seed "$seed" \
  --slurpfile r <(cat "${results[@]}") '
  {command: $cmd, date: $date, commit: $commit, seed: $seed, sqlite_version: $sq, baseline_bin: $base,
   machine: {cpu: $cpu, cores: ($cores | tonumber), load_before: $lb, load_after: $la},
   runs: $r}' > "$out"
say "wrote $out"
jq -r '"load average before \(.machine.load_before), after \(.machine.load_after)",
  (.runs[] |
   "\(.records) records: chengxin \(.chengxin.compacted_bytes / 1e6 | floor) MB compacted (\(.chengxin.bytes_per_record | floor) B/record), \(.chengxin.file_bytes / 1e6 | floor) MB as imported (\(.chengxin.free_bytes / 1e6 | floor) MB of it free pages); sqlite3 \(.sqlite.file_bytes / 1e6 | floor) MB (\(.sqlite.bytes_per_record | floor) B/record); ratio \(.ratio_compacted * 1000 | floor / 1000) compacted, \(.ratio_file * 1000 | floor / 1000) as imported",
   "  chengxin per DB as imported (MB): \(.chengxin.dbs | to_entries | map(select(.value >= 1e6)) | sort_by(-.value) | map("\(.key) \(.value / 1e5 | floor / 10)") | join(", "))",
   "  chengxin per DB compacted (MB): \(.chengxin.dbs_compacted | to_entries | map(select(.value >= 1e6)) | sort_by(-.value) | map("\(.key) \(.value / 1e5 | floor / 10)") | join(", "))",
   (if .baseline then
     "  baseline: \(.baseline.compacted_bytes / 1e6 | floor) MB compacted, \(.baseline.file_bytes / 1e6 | floor) MB as imported; same content: \(.baseline.content_equal)",
     "  baseline per DB as imported (MB): \(.baseline.dbs | to_entries | map(select(.value >= 1e6)) | sort_by(-.value) | map("\(.key) \(.value / 1e5 | floor / 10)") | join(", "))",
     "  baseline per DB compacted (MB): \(.baseline.dbs_compacted | to_entries | map(select(.value >= 1e6)) | sort_by(-.value) | map("\(.key) \(.value / 1e5 | floor / 10)") | join(", "))"
    else empty end),
   "  sqlite per table/index (MB): \(.sqlite.dbs | to_entries | map(select(.value >= 1e6)) | sort_by(-.value) | map("\(.key) \(.value / 1e5 | floor / 10)") | join(", "))")' "$out"
