# bench/common.sh — the start every bench/*.sh script shares. Sourced, not run:
#
#   . "$(dirname "$0")/common.sh" NAME [TOOL...]
#
# sets -euo pipefail and
#   root build bin data seed date_utc resdir load_before   (CX_BENCH_BIN, CX_BENCH_DATA,
#       CX_BENCH_SEED, CX_BENCH_RESULTS: the directory the JSON goes to, default bench/results)
#   work     a new /tmp/cx_bench_NAME.XXXXXX, unless the script set `work` before sourcing
#   pids     an array: every pid put in it is killed and waited for at exit; then the
#            script's cxb_on_exit runs, if it defined one; then work is removed
#   say      a progress line on stderr
# and exits with a message when jq or one of the TOOLs is missing. Then:
#   cxb_build TARGET...    Release build of those targets into $build (none with CX_BENCH_BIN)
#   cxb_gen_store DIR ENT REC [CHENGXIN]
#                          DIR/store from `chengxin gen --db` ($bin/chengxin, or CHENGXIN) with
#                          $seed, stamped DIR/gen.json (entities, records, seed, seconds);
#                          reused while the stamp is there
#   cxb_commit [BINARY]    the commit the binary (default $bin/chengxin) was built from, as its
#                          --version says ("commit: …"), for the JSON; else the worktree's
# Nothing here measures anything: the figures are each script's.
set -euo pipefail
cxb_name=$1
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-release
bin=${CX_BENCH_BIN:-$build/bin}
data=${CX_BENCH_DATA:-/tmp/cx_bench_data}
seed=${CX_BENCH_SEED:-42}
resdir=${CX_BENCH_RESULTS:-$root/bench/results}
date_utc=$(date -u +%Y-%m-%d)
work=${work:-$(mktemp -d "/tmp/cx_bench_$cxb_name.XXXXXX")}
mkdir -p "$work" "$resdir"
pids=()
say() { printf '== %s\n' "$*" >&2; }
cxb_cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if declare -F cxb_on_exit >/dev/null; then cxb_on_exit || true; fi
  rm -rf "$work"
}
trap cxb_cleanup EXIT
for cxb_tool in jq "$@"; do
  command -v "$cxb_tool" >/dev/null || { echo "bench/$cxb_name.sh needs $cxb_tool" >&2; exit 1; }
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

cxb_build() {
  [ -z "${CX_BENCH_BIN:-}" ] || return 0
  say "build Release into $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target "$@" >/dev/null
}

cxb_gen_store() {
  local dir=$1 e=$2 r=$3 cx=${4:-$bin/chengxin} t0 t1
  if [ -s "$dir/gen.json" ] && [ -d "$dir/store" ]; then say "reusing $dir/store"; return 0; fi
  rm -rf "$dir"; mkdir -p "$dir"
  say "chengxin gen --db ($e entities, $r records, seed $seed) with $cx"
  t0=$(date +%s.%N)
  "$cx" gen --db "$dir/store" --entities "$e" --records "$r" --seed "$seed" --quiet
  t1=$(date +%s.%N)
  jq -n --argjson e "$e" --argjson r "$r" --argjson seed "$seed" \
    --argjson s "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" \
    '{entities: $e, records: $r, seed: $seed, seconds: $s}' > "$dir/gen.json"
}

# cxb_chengxind LOG ARG...: "$bin/chengxind" ARG... in the background (stderr to LOG), its pid
# in pids and srv; waits until it listens (10 s at most, else exits with its log) and sets mport
# (the msgpack port) and hport (the HTTP port, when ARG has --http). "http listening on
# HOST:PORT" comes just before "listening on HOST:PORT".
cxb_chengxind() {
  local log=$1
  shift
  "$bin/chengxind" "$@" 2> "$log" &
  srv=$!
  pids+=("$srv")
  for _ in $(seq 1 100); do grep -v 'http listening' "$log" | grep -q listening && break; sleep 0.1; done
  mport=$(grep -v 'http listening' "$log" | sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
  hport=$(sed -n 's/.*http listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$mport" ] || { cat "$log" >&2; echo "bench/$cxb_name.sh: chengxind did not start" >&2; exit 1; }
}

# cxb_duckdb: 0 when DuckDB's Node API can run here (node, and bench/duckdb/node_modules, which
# it installs from npm when missing), else says why it is skipped and returns 1.
cxb_duckdb() {
  if command -v node >/dev/null &&
     { [ -d "$root/bench/duckdb/node_modules/@duckdb/node-api" ] ||
       (cd "$root/bench/duckdb" && npm install --no-audit --no-fund --silent >/dev/null 2>&1); }; then
    return 0
  fi
  say "DuckDB skipped (node, npm or @duckdb/node-api missing)"
  return 1
}

cxb_commit() {
  local b=${1:-$bin/chengxin} c=
  [ -x "$b" ] && c=$("$b" --version 2>/dev/null | sed -n 's/^commit: //p')
  [ -n "$c" ] || c="unknown (worktree $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown))"
  printf '%s' "$c"
}
