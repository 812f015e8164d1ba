#!/usr/bin/env bash
# Installs what is missing, builds Release into build/, creates a demo store (10k entities,
# 100k records, fixed seed) under demo/ if there is none, and serves it on 127.0.0.1:7411.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
db=${CX_DB:-demo/store}
# The demo store is ours: when it is of another schema (an older build made it), make it again.
if [ -z "${CX_DB:-}" ] && [ -e "$db/data.mdb" ] && ! ./build/bin/chengxin info --db "$db" >/dev/null 2>&1; then
  echo "run.sh: demo store $db cannot be opened by this build (another schema?): regenerating" >&2
  rm -rf "$db"
fi
if [ ! -e "$db/data.mdb" ]; then
  mkdir -p "$(dirname "$db")"
  ./build/bin/chengxin gen --db "$db" --entities 10000 --records 100000 --seed 1
fi
./build/bin/chengxin info --db "$db"
if [ -x ./build/bin/chengxind ]; then
  exec ./build/bin/chengxind --db "$db" --listen "${CX_LISTEN:-127.0.0.1:7411}" "$@"
fi
echo "chengxind is not built yet: stopping after the store summary." >&2
