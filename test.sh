#!/usr/bin/env bash
# Installs what is missing, builds into build/ and runs every test. Non-zero exit on any failure.
# CX_ASAN=1 also builds the ASAN type into build-asan/ and runs the suite under it.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j 2)
# what ./run.sh builds: Release (-O2) finds warnings Debug does not (format truncation, ...)
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$jobs" --target chengxin chengxind
if [ "${CX_ASAN:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=ASAN >/dev/null
  cmake --build build-asan -j "$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp \
     ctest --output-on-failure -j 2)
fi
