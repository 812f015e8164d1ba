#!/usr/bin/env bash
# bench/replog.sh — the replicated log's speed (issue 19 "Speed"; docs/scaling.md "Capacity
# planning", docs/benchmarks.md "Replicated log"): a 3-server NATS JetStream cluster and three
# chengxind --log nodes on loopback, every process started and stopped by bench/replog.py:
#
#   1. builds Release into build-release/ (chengxin, chengxind, bench_load);
#   2. in one run (bench/replog.py's opening comment has the details):
#      (a) replication lag p50/p99 of the two replicas at a steady ingest of CX_RL_RATE rows/s
#          (default 10,000) in batches of CX_RL_BATCH (500) through node A for CX_RL_SECONDS
#          (15): from A's apply (which precedes its ack) to the replica's, by polling
#          stats.log.applied of every node every CX_RL_POLL_MS (2) ms;
#      (b) a node's catch-up rate: C stopped, CX_RL_CATCHUP rows (100,000) written through A,
#          C restarted, time until it has applied the stream's last sequence; beside it a local
#          `chengxin import` of the same rows into a fresh store with the same batch size;
#      (c) check throughput of replica C (bench_load, CX_RL_CONNS connections, depth 1,
#          CX_RL_LOAD_SECONDS each) while it applies a second steady ingest (its own window:
#          (a) is measured with nothing else running), beside the same replica idle before and
#          after;
#   3. writes bench/results/<date>-replog.json and prints the figures.
# Never asserts a figure; exits non-zero when a process fails to start, a write is refused or
# a replica does not catch up. Bounded: about 2 minutes at the defaults (sizes below).
#
# Environment: CX_BENCH_BIN=DIR (binaries from DIR, no build), CX_BENCH_SEED (42),
# CX_RL_PRELOAD (50000 rows before the measurements, so the replicas hold codes to check),
# CX_RL_RATE, CX_RL_BATCH, CX_RL_SECONDS, CX_RL_WRITERS (8 connections to A), CX_RL_POLL_MS,
# CX_RL_LOAD_SECONDS (8), CX_RL_CONNS (50), CX_RL_CATCHUP, CX_RL_CATCHUP_BATCH (1000),
# CX_RL_SERVER_THREADS (2 loops per node: three nodes share the machine), CX_KEEP_TMP=1,
# CX_RL_TAG (the results go to <date>-replog-TAG.json: several rates on one day).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-release
bin=${CX_BENCH_BIN:-$build/bin}
date_utc=$(date -u +%Y-%m-%d)
work=$(mktemp -d /tmp/cx_bench_replog.XXXXXX)
cleanup() { if [ -z "${CX_KEEP_TMP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi; }
trap cleanup EXIT
say() { printf '== %s\n' "$*" >&2; }
command -v jq >/dev/null || { echo "bench/replog.sh needs jq" >&2; exit 1; }
nats=$(command -v nats-server || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || true)
[ -n "$nats" ] || { echo "bench/replog.sh needs nats-server (scripts/deps.sh installs it)" >&2; exit 1; }
# the Python client needs msgpack: the first python3 that imports it (pyenv's may not see Debian's)
py=
for p in "$(command -v python3 || true)" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c 'import msgpack' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "bench/replog.sh needs python3-msgpack (scripts/deps.sh installs it)" >&2; exit 1; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -z "${CX_BENCH_BIN:-}" ]; then
  say "build Release into $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target chengxin chengxind bench_load >/dev/null
fi

t0=$(date +%s)
CX_RL_BIN=$bin CX_RL_WORK=$work CX_RL_NATS=$nats "$py" "$root/bench/replog.py" "$work/replog.json"
run_s=$(( $(date +%s) - t0 ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

out=$root/bench/results/$date_utc-replog${CX_RL_TAG:+-$CX_RL_TAG}.json
mkdir -p "$root/bench/results"
jq --arg cmd "bench/replog.sh" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg cores "$(nproc)" \
  --arg lb "$load_before" --arg la "$load_after" --argjson run_s "$run_s" \
  --arg nats_version "$("$nats" --version 2>&1 | head -1)" \
  '{command: $cmd, date: $date, commit: $commit,
    machine: {cpu: $cpu, cores: ($cores | tonumber), load_before: $lb, load_after: $la},
    nats_server: $nats_version, run_seconds: $run_s} + .' "$work/replog.json" > "$out"
say "wrote $out"
jq -r '"load average before \(.machine.load_before), after \(.machine.load_after); \(.nats_server); \(.run_seconds) s",
  (.steady | "steady ingest: \(.rows_per_s | floor) rows/s (target \(.target_rows_per_s | floor), batches of \(.batch), \(.messages) messages, \(.late_batches) sent late); ack p50 \(.ack_ms.p50) ms p99 \(.ack_ms.p99) ms",
   "replication lag (writer node apply -> replica apply, poll \(.poll_period_ms.p50) ms): p50 \(.lag_ms.p50) ms, p99 \(.lag_ms.p99) ms, max \(.lag_ms.max) ms over \(.lag_ms.n) message-replicas (\(.lag_ms.ahead_of_writer) applied before the writer, \(.lag_ms.over_100ms) over 100 ms); by replica \(.lag_ms_by_replica | tostring)"),
  (.steady_under_check_load | "under the check load: \(.rows_per_s | floor) rows/s, ack p50 \(.ack_ms.p50) ms; lag p50 \(.lag_ms.p50) ms, p99 \(.lag_ms.p99) ms; by replica \(.lag_ms_by_replica | tostring)"),
  (.catchup | "catch-up: \(.rows) rows (\(.messages) messages of \(.batch)) in \(.restart_to_caught_up_s) s from restart (listening after \(.restart_to_listening_s) s): \(.rows_per_s | floor) rows/s"),
  (.import | "local import of the same rows (--batch \(.batch)): \(.seconds) s, \(.rows_per_s | floor) rows/s"),
  "catch-up / import: \(.catchup_vs_import)",
  "stats.log at the end: \(.log_stats | map_values({applied, published, retries, duplicates, refused, apply_errors, publish_failed}) | tostring)",
  (.check | "check on replica c, \(.conns) connections depth 1: idle \(.idle_before.req_per_s | floor) req/s before, \(.idle_after.req_per_s | floor) after; while applying \(.applying.req_per_s | floor) req/s (p99 \(.applying.p99_ns / 1000 | floor) us vs idle \(.idle_before.p99_ns / 1000 | floor) us): applying / idle \(.applying_vs_idle)")' "$out"
