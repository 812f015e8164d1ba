#!/usr/bin/env bash
# Installs what is missing, builds Release into build/, creates a demo store (10k entities,
# 100k records, fixed seed) under demo/ if there is none, and serves it on 127.0.0.1:7411.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
db=${CX_DB:-demo/store}
if [ ! -e "$db/data.mdb" ]; then
  mkdir -p "$(dirname "$db")"
  ./build/bin/chengxin gen --db "$db" --entities 10000 --records 100000 --seed 1
fi
./build/bin/chengxin info --db "$db"
if [ -x ./build/bin/chengxind ]; then
  exec ./build/bin/chengxind --db "$db" --listen "${CX_LISTEN:-127.0.0.1:7411}" "$@"
fi
echo "chengxind is not built yet: stopping after the store summary." >&2
