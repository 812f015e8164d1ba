#!/usr/bin/env bash
# Installs what is missing, builds Release into build-release/ (test.sh builds Debug into
# build/: switching between the two rebuilds nothing), creates a demo store (10k entities,
# 100k records, fixed seed) under demo/ if there is none, and serves it: the msgpack protocol
# on 127.0.0.1:7411, HTTP/JSON and the public credit site on http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/deps.sh
build=build-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target chengxin chengxind
db=${CX_DB:-demo/store}
# The demo store is ours: when it is of another schema (an older build made it), make it again.
if [ -z "${CX_DB:-}" ] && [ -e "$db/data.mdb" ] && ! ./"$build"/bin/chengxin info --db "$db" >/dev/null 2>&1; then
  # the previous schema migrates in place; anything else is regenerated (it is ours)
  if ! ./"$build"/bin/chengxin upgrade --db "$db" >&2; then
    echo "run.sh: demo store $db cannot be opened by this build (another schema?): regenerating" >&2
    rm -rf "$db"
  fi
fi
if [ ! -e "$db/data.mdb" ]; then
  mkdir -p "$(dirname "$db")"
  ./"$build"/bin/chengxin gen --db "$db" --entities 10000 --records 100000 --seed 1
fi
./"$build"/bin/chengxin info --db "$db"
if [ -x ./"$build"/bin/chengxind ]; then
  http=${CX_HTTP:-127.0.0.1:8080}
  echo "run.sh: the public site and the HTTP API: http://$http/ (API under /v1, /v1/openapi.json)" >&2
  exec ./"$build"/bin/chengxind --db "$db" --listen "${CX_LISTEN:-127.0.0.1:7411}" --http "$http" "$@"
fi
echo "chengxind is not built yet: stopping after the store summary." >&2
