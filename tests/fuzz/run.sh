#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (libraries instrumented too) and runs
# each for FUZZ_SECONDS (default 60) from its seed corpus (tests/fuzz/corpus/<target>/, plus
# tests/net/corpus/fuzz_request/ when present). Exits non-zero when any target finds a crash,
# a sanitizer report or a broken invariant; the reproducer is left in build-fuzz/crashes/.
# Inputs that once failed live in tests/fuzz/regress/<target>/ and are replayed first.
#   FUZZ_SECONDS=20 tests/fuzz/run.sh            # all targets
#   tests/fuzz/run.sh fuzz_codes fuzz_cursor      # some targets
# FUZZ_JOBS (default nproc) targets run at once, each on one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
secs=${FUZZ_SECONDS:-60}
bdir=${FUZZ_BUILD_DIR:-build-fuzz}
CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found" >&2; exit 1; }

cmake -S . -B "$bdir" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=ASAN -DCX_FUZZ=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_request)
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
cmake --build "$bdir" -j "$(nproc)" --target "${targets[@]}"

mkdir -p "$bdir/crashes"
# The targets' scratch stores go under one temp dir (tmpfs when there is one: ingest syncs),
# removed at exit even when a target aborted before cleaning up.
shm=/tmp; [ -w /dev/shm ] && shm=/dev/shm
scratch=$(mktemp -d "$shm/cxfuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch
fail=0
# Regressions first: every input that once failed is replayed (tests/fuzz/regress/<target>/).
for t in "${targets[@]}"; do
  d="tests/fuzz/regress/$t"
  [ -d "$d" ] && [ -n "$(ls -A "$d")" ] || continue
  if ! "$bdir/bin/$t" "$d"/* >"$bdir/$t.regress.log" 2>&1; then
    echo "fuzz: $t FAILED a regression input (log $bdir/$t.regress.log):" >&2
    grep -E "Running:|runtime error|ERROR|SUMMARY" "$bdir/$t.regress.log" | head -10 >&2 || true
    fail=1
  fi
done
# One target a core at a time (each libFuzzer run is one process on one core): the same
# FUZZ_SECONDS for every target, in about 1/nproc of the wall time of running them in turn.
fuzz_one() {
  local t=$1 work="$bdir/corpus/$1" seeds=() d
  mkdir -p "$work"              # grows between runs; the seeds stay read-only
  for d in "tests/fuzz/corpus/$t" "tests/net/corpus/$t"; do [ -d "$d" ] && seeds+=("$d"); done
  echo "fuzz: $t for ${secs}s" >&2
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$bdir/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$root/$bdir/crashes/$t-" "$work" "${seeds[@]}" >"$bdir/$t.log" 2>&1; then
    echo "fuzz: $t FAILED (log $bdir/$t.log, reproducer in $bdir/crashes/):" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$bdir/$t.log" | head -20 >&2 || true
    return 1
  fi
  echo "fuzz: $t done: $(grep -E "stat::number_of_executed_units" "$bdir/$t.log" | tail -1)" >&2
}
jobs_max=${FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done
exit $fail
