#!/usr/bin/env bash
# bench/site.sh — issue 15 "Speed": the public site's entity and search pages beside the same
# data through the API's GETs, in the same run, on one chengxind (docs/benchmarks.md,
# "Public site"). The bar: the entity page and the search page ≤ 2 ms p99 at 50 concurrent
# keep-alive clients on the medium store.
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load);
#   2. generates the medium store of bench/run.sh (1M entities / 10M records, seed 42; ~2 min,
#      6.3 GB; kept under $CX_BENCH_DATA and reused, the same directory bench/http.sh uses for
#      that size);
#   3. starts one chengxind with --listen 127.0.0.1:0 --http 127.0.0.1:0 (no tokens: every
#      request here is the public role's);
#   4. CX_SITE_ROUNDS rounds (default 3) of bench_load --proto http --http-path P, 50
#      keep-alive connections, depth 1, CX_SITE_SECONDS (default 3) after a 1 s warm-up, for
#      each path below; round r starts at the r-th path of the list (a rotation), so that the
#      drift of the shared machine spreads over all of them:
#        api_entity      GET /v1/entities/{code}           (the baseline of the entity page)
#        page_entity     GET /entity/{code}
#        api_search      GET /v1/search?q={name2}          (the baseline of the search page)
#        page_search     GET /search?q={name2}
#        api_entity_vis  GET /v1/entities/{code} --visible-only
#        page_entity_vis GET /entity/{code} --visible-only
#      {code}: bench_load's fixed-seed pool (10 % unknown codes; about half the stored codes
#      are hidden from the public, so the plain draw is ~half 404s); the _vis runs keep only
#      codes the public may see (every answer a 200: the page a visitor reads). {name2}: a
#      2-4 character part of the name of an entity the public can find;
#   5. with CX_SITE_PERF=1, one more run each of page_entity_vis and page_search under
#      `perf record --call-graph dwarf` on chengxind (bench/results/<date>-site-perf.txt);
#   6. writes bench/results/<date>-site.json and prints per path req/s, p50, p99 and chengxind's
#      CPU per answer (user + system from /proc/PID/stat over the run, warm-up included, over
#      every answer of the run; medians of the rounds), the ratios page / API, and whether each
#      page meets the 2 ms p99 bar.
# Never asserts a figure; exits non-zero when a run fails or answers wrongly.
#
# Environment: CX_BENCH_DATA (default /tmp/cx_bench_data), CX_BENCH_BIN=DIR (binaries from
# DIR, no build), CX_BENCH_SEED (42), CX_BENCH_SERVER_THREADS (default nproc),
# CX_SITE_ENTITIES (1000000), CX_SITE_RECORDS (10000000), CX_SITE_ROUNDS, CX_SITE_SECONDS,
# CX_SITE_CONNS (50), CX_SITE_PERF=1.
. "$(dirname "$0")/common.sh" site
ent=${CX_SITE_ENTITIES:-1000000}
rec=${CX_SITE_RECORDS:-10000000}
rounds=${CX_SITE_ROUNDS:-3}
secs=${CX_SITE_SECONDS:-3}
conns=${CX_SITE_CONNS:-50}
threads=${CX_BENCH_SERVER_THREADS:-$(nproc)}
cxb_build chengxin chengxind bench_load

# the store: generated from the seed, kept and reused (stamp: gen.json; bench/http.sh's layout)
sdir=$data/http-e$ent-r$rec-s$seed
cxb_gen_store "$sdir" "$ent" "$rec"
store=$sdir/store

cxb_chengxind "$work/chengxind.log" --db "$store" --listen 127.0.0.1:0 --http 127.0.0.1:0 --threads "$threads"
say "chengxind ($threads worker loops): http on 127.0.0.1:$hport"

# name|template|extra bench_load flags
paths=("api_entity|/v1/entities/{code}|"
       "page_entity|/entity/{code}|"
       "api_search|/v1/search?q={name2}|"
       "page_search|/search?q={name2}|"
       "api_entity_vis|/v1/entities/{code}|--visible-only"
       "page_entity_vis|/entity/{code}|--visible-only")
common=(--db "$store" --seed "$seed" --proto http --port "$hport" --conns "$conns" --depth 1 --warmup 1)
load_files=()
# server CPU (user + system) of chengxind so far, in clock ticks (/proc/PID/stat fields 14, 15)
srv_ticks() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
hz=$(getconf CLK_TCK)
# run_path ROUND SPEC
run_path() {
  local r=$1 name tmpl extra f c0 c1
  IFS='|' read -r name tmpl extra <<< "$2"
  f=$work/load-$r-$name.json
  c0=$(srv_ticks)
  # shellcheck disable=SC2086 # extra is one flag or none
  "$bin/bench_load" "${common[@]}" --duration "$secs" --http-path "$tmpl" $extra --json "$f.raw" \
    --label "round $r $name" 2>> "$work/draw.log"
  c1=$(srv_ticks)
  # server CPU per answer: all of chengxind's CPU during the run (warm-up and measured window)
  # over every answer of the run; independent of how much of the cores the load generator took
  jq --argjson r "$r" --arg name "$name" --argjson th "$threads" --argjson ticks "$((c1 - c0))" --argjson hz "$hz" \
    '. + {round: $r, name: $name, server_threads: $th, server_cpu_s: ($ticks / $hz),
          server_cpu_us_per_req: ($ticks / $hz * 1e6 / .responses_total)}' "$f.raw" > "$f"
  load_files+=("$f")
}
np=${#paths[@]}
for r in $(seq 1 "$rounds"); do
  say "round $r of $rounds"
  for i in $(seq 0 $((np - 1))); do run_path "$r" "${paths[$(( (i + r - 1) % np ))]}"; done
done

perf_note=null
if [ "${CX_SITE_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  pout=$resdir/$date_utc-site-perf.txt
    : > "$pout"
  for spec in "page_entity_vis|/entity/{code}|--visible-only" "page_search|/search?q={name2}|"; do
    IFS='|' read -r name tmpl extra <<< "$spec"
    say "perf record -g on chengxind during one more $name run"
    # the pool is drawn and the warm-up run (~1.5 s on the medium store) before recording
    # shellcheck disable=SC2086
    "$bin/bench_load" "${common[@]}" --duration "$((secs + 4))" --http-path "$tmpl" $extra --label "perf $name" \
      > "$work/perf-load.txt" 2>> "$work/draw.log" &
    lp=$!
    sleep 2.5
    # DWARF unwinding: the Release build keeps no frame pointers, and the pages' cost is in
    # site.c's static helpers (mp_get, record_fields, ...) that only DWARF attributes to a page
    perf record --call-graph dwarf,16384 -F 499 -o "$work/perf.data" -p "$srv" -- sleep "$secs" \
      > "$work/perf.log" 2>&1 || true
    wait "$lp"
    { echo "# bench/site.sh CX_SITE_PERF=1: perf record --call-graph dwarf -F 499 -p chengxind for ${secs} s during: $(cat "$work/perf-load.txt")"
      echo "# perf report --no-children --sort dso,symbol --percent-limit 0.5 (self time)"
      perf report -i "$work/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio -g none 2>/dev/null |
        grep -v '^$'
      echo "# perf report --children --sort symbol --percent-limit 1.5 (time including callees; user space)"
      perf report -i "$work/perf.data" --children --sort symbol --percent-limit 1.5 --stdio -g none 2>/dev/null |
        grep -v '^$' | grep -v '\[k\]'
      echo "# perf report --no-children --sort dso (self time by library)"
      perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$'
      echo
    } >> "$pout"
  done
  perf_note="\"${pout#"$root"/}\""
  say "wrote $pout"
fi
kill "$srv"; wait "$srv" 2>/dev/null || true
pids=()

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
out=$resdir/$date_utc-site.json
jq -n --arg cmd "bench/site.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(cxb_commit)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg lb "$load_before" --arg la "$load_after" --argjson threads "$threads" \
  --argjson rounds "$rounds" --argjson secs "$secs" --argjson conns "$conns" --argjson perf "$perf_note" \
  --slurpfile gen "$sdir/gen.json" --slurpfile load <(cat "${load_files[@]}") '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def path($n): [$load[] | select(.name == $n)] |
    {path: .[0].path, visible_only: .[0].visible_only, rounds: length,
     req_per_s: (map(.req_per_s) | median), p50_ns: (map(.p50_ns) | median),
     p99_ns: (map(.p99_ns) | median), p999_ns: (map(.p999_ns) | median),
     p99_ns_worst: (map(.p99_ns) | max),
     response_bytes: (map(.response_bytes_avg) | median),
     server_cpu_us_per_req: (map(.server_cpu_us_per_req) | median),
     share_404: (map(.status_404 / .responses) | median)};
  def ratio($a; $b): {req_per_s: (path($a).req_per_s / path($b).req_per_s),
                      p50: (path($a).p50_ns / path($b).p50_ns), p99: (path($a).p99_ns / path($b).p99_ns),
                      server_cpu_per_req: (path($a).server_cpu_us_per_req / path($b).server_cpu_us_per_req),
                      req_per_s_per_round: [range(1; $rounds + 1) as $r |
                        ([$load[] | select(.round == $r and .name == $a)][0].req_per_s /
                         [$load[] | select(.round == $r and .name == $b)][0].req_per_s)]};
  ([$load[] | .name] | unique) as $names |
  {command: $cmd, date: $date, commit: $commit,
   machine: {cpu: $cpu, cores: ($cores | tonumber), load_before: $lb, load_after: $la},
   store: $gen[0], server_threads: $threads, conns: $conns, depth: 1, seconds: $secs, rounds: $rounds,
   load: $load,
   paths: ([$names[] | {key: ., value: path(.)}] | from_entries),
   page_vs_api: {entity: ratio("page_entity"; "api_entity"), entity_visible: ratio("page_entity_vis"; "api_entity_vis"),
                 search: ratio("page_search"; "api_search")},
   bar_p99_ns: 2000000,
   perf_report: $perf}' > "$out"
say "wrote $out"
jq -r '
  def us: . / 1000 | (. * 10 | round) / 10;
  def r2: . * 100 | round / 100;
  (.paths | to_entries[] | .value as $v |
   "\(.key | . + "                " | .[0:16]) \($v.path)\(if $v.visible_only == 1 then " (visible only)" else "" end): \($v.req_per_s | floor) req/s, p50 \($v.p50_ns | us) us, p99 \($v.p99_ns | us) us (worst round \($v.p99_ns_worst | us) us), server CPU \($v.server_cpu_us_per_req | . * 10 | round / 10) us/answer, \($v.response_bytes | floor) B/answer, 404s \($v.share_404 * 100 | round) %"),
  (.page_vs_api | to_entries[] |
   "page / API, \(.key): req/s \(.value.req_per_s | r2) (per round \(.value.req_per_s_per_round | map(r2) | join(", "))), p50 \(.value.p50 | r2), p99 \(.value.p99 | r2), server CPU per answer \(.value.server_cpu_per_req | r2)"),
  (.paths | to_entries[] | select(.key | startswith("page_")) |
   "bar (p99 <= 2 ms), \(.key): \(if .value.p99_ns <= 2000000 then "met" else "NOT met" end) (p99 \(.value.p99_ns | us) us)")' "$out"
