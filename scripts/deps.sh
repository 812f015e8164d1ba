#!/usr/bin/env bash
# Installs the Debian packages chengxin needs, when any is missing. Safe to run again.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liblmdb-dev lmdb-utils libzstd-dev libuv1-dev libmsgpack-dev
      libcriterion-dev libcsv-dev libjansson-dev libsqlite3-dev sqlite3 redis-server clang
      libclang-rt-14-dev gnuplot-nox jq python3 python3-msgpack
      libh2o-dev libssl-dev zlib1g-dev openssl curl prometheus
      libcairo2-dev libpango1.0-dev fonts-noto-cjk chromium poppler-utils libxlsxwriter-dev
      libnats-dev nats-server)
# libzstd-dev: the store's record values are compressed with a trained dictionary (store/reczip.c).
# libnats-dev: chengxind --log (net/replog.c); nats-server: only the replication test
# (tests/e2e/python/test_cluster.py) runs it, chengxind itself never starts one.
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm for the OpenAPI lint (@redocly/cli), the browser test (puppeteer-core) and
# DuckDB (@duckdb/node-api, bench/duckdb/package.json: bench/run.sh and the export recipe's test
# tests/tools/test_export_duckdb.py install it from the npm registry themselves):
# Debian's when there is none (a machine may have another node, with its own npm: keep it)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
  { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
