#!/usr/bin/env python3
"""bench/replog.py — the replicated log's speed (issue 19 "Speed"); run through bench/replog.sh,
which builds Release, picks a python3 with msgpack and passes the environment below.

One run, on loopback, every process started and stopped here: three nats-server (one JetStream
cluster, ephemeral ports, store dirs in the work dir) and three chengxind --log nodes (A takes
the writes, B and C replicate; the R3 stream is created by A). Rows: `chengxin gen --out jsonl`
(seed fixed), split into a preload, the steady part and the catch-up part.

  0. preload: CX_RL_PRELOAD rows through A as fast as it takes them (so that the replicas hold
     codes for bench_load's pool); wait until every node has applied the last sequence;
  1. idle replica: bench_load check against C (nothing is written);
  2. steady ingest through A: batches of CX_RL_BATCH rows on a fixed schedule of CX_RL_RATE
     rows/s for CX_RL_SECONDS (CX_RL_WRITERS connections take the next due batch; a batch
     that is late is sent at once, the schedule is not moved), while a poller reads
     stats.log.applied of A, B and C every CX_RL_POLL_MS. Lag of a sequence s on a replica =
     the first poll at which the replica had applied s minus the first poll at which A had (A
     applies before it acknowledges: that is the writer's ack, within a poll period), 0 when
     the replica applied it first (a reader there sees it at the ack; raw_lag_ms keeps the
     signed values, lag_ms.ahead_of_writer counts them).
     Nothing else runs against the nodes meanwhile;
  2b. the same steady ingest again for CX_RL_LOAD_SECONDS + 3 s, with bench_load check against C
     from its second 2 (a replica while it applies; its lag under that load too);
  3. idle replica again (bench_load against C after the ingest: drift between 1 and 3 shows
     the noise);
  4. catch-up: C stopped (SIGTERM), CX_RL_CATCHUP rows through A in batches of
     CX_RL_CATCHUP_BATCH, C restarted; the time from its restart until its applied == the
     stream's last, and the rows applied per second; beside it `chengxin import --batch
     CX_RL_CATCHUP_BATCH` of the same rows into a fresh store (one transaction per batch, as the
     catch-up applies one message per transaction).
Writes the JSON (argument 1) and prints one line per figure. Never asserts a figure; exits
non-zero when something fails (a node that does not start, a write refused, a replica that
does not catch up, a bench_load run that answers wrongly).
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import chengxin_client as cx  # noqa: E402

E = os.environ
BIN = E["CX_RL_BIN"]
WORK = E["CX_RL_WORK"]
NATS = E["CX_RL_NATS"]
SEED = int(E.get("CX_BENCH_SEED", "42"))
PRELOAD = int(E.get("CX_RL_PRELOAD", "50000"))
RATE = float(E.get("CX_RL_RATE", "10000"))
BATCH = int(E.get("CX_RL_BATCH", "500"))
SECONDS = float(E.get("CX_RL_SECONDS", "15"))
WRITERS = int(E.get("CX_RL_WRITERS", "8"))
POLL_MS = float(E.get("CX_RL_POLL_MS", "2"))
LOAD_SECONDS = int(E.get("CX_RL_LOAD_SECONDS", "8"))
CONNS = int(E.get("CX_RL_CONNS", "50"))
CATCHUP = int(E.get("CX_RL_CATCHUP", "100000"))
CATCHUP_BATCH = int(E.get("CX_RL_CATCHUP_BATCH", "1000"))
THREADS = int(E.get("CX_RL_SERVER_THREADS", "2"))
TOKEN = "bench-replog-admin-token-0123456789"
STREAM = "CXBENCH"
AS_OF = "2026-01-01"


def say(msg):
    print(f"== {msg}", file=sys.stderr, flush=True)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def pct(xs, p):
    """the p-quantile by rank (nearest rank, as bench_load's histogram): None for no data"""
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs), max(1, int(-(-p * len(xs) // 1)))) - 1]


class Nats:
    def __init__(self, i, ports, cports):
        self.conf = os.path.join(WORK, f"nats{i}.conf")
        self.log = os.path.join(WORK, f"nats{i}.log")
        self.port = ports[i]
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(cports) if j != i)
        with open(self.conf, "w") as f:
            f.write(f'server_name: "n{i}"\nlisten: "127.0.0.1:{ports[i]}"\n'
                    f'jetstream {{ store_dir: "{os.path.join(WORK, f"js{i}")}" }}\n'
                    f'cluster {{ name: "cxbench"\n  listen: "127.0.0.1:{cports[i]}"\n  routes: [{routes}] }}\n')
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([NATS, "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Node:
    def __init__(self, name, urls):
        self.name, self.urls = name, urls
        self.db = os.path.join(WORK, f"db-{name}")
        self.logf = os.path.join(WORK, f"{name}.log")
        self.proc, self.port = None, 0
        subprocess.run([os.path.join(BIN, "chengxin"), "init", "--db", self.db], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, port=0):
        at = os.path.getsize(self.logf) if os.path.exists(self.logf) else 0
        with open(self.logf, "a") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, "chengxind"), "--db", self.db, "--listen", f"127.0.0.1:{port}", "--tokens",
                 os.path.join(WORK, "tokens"), "--threads", str(THREADS), "--log", self.urls, "--stream", STREAM,
                 "--node", self.name, "--max-lag", "100000000"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            with open(self.logf, errors="replace") as f:
                f.seek(at)
                for line in f:
                    if "chengxind: listening on " in line:
                        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                        return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def client(self):
        return cx.Client("127.0.0.1", self.port, token=TOKEN, timeout=60.0)


def wait_applied(nodes, last, timeout=120):
    end = time.monotonic() + timeout
    clients = [n.client() for n in nodes]
    try:
        while True:
            st = [c.call("stats")["log"] for c in clients]
            if all(s["applied"] >= last for s in st):
                return
            if time.monotonic() > end:
                raise RuntimeError(f"not caught up to {last}: {[s['applied'] for s in st]}")
            time.sleep(0.01)
    finally:
        for c in clients:
            c.close()


def last_seq(node):
    with node.client() as c:
        return c.call("stats")["log"]["last"]


def parse(lines):
    return [json.loads(line) for line in lines]


def ingest_all(node, rows, batch, writers):
    """rows (JSON lines) through node as fast as it takes them (writers connections); returns
    seconds."""
    batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    nxt = [0]
    mu = threading.Lock()
    errors = []

    def run():
        with node.client() as c:
            while True:
                with mu:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(batches):
                    return
                try:
                    c.call("ingest", records=parse(batches[i]))
                except Exception as e:  # noqa: BLE001 - any failure fails the run
                    errors.append(repr(e))
                    return

    t0 = time.monotonic()
    ts = [threading.Thread(target=run) for _ in range(writers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"ingest failed: {errors[:3]}")
    return time.monotonic() - t0


def bench_load(node, label, out):
    f = os.path.join(WORK, f"load-{out}.json")
    subprocess.run([os.path.join(BIN, "bench_load"), "--db", node.db, "--seed", str(SEED), "--token", TOKEN,
                    "--as-of", AS_OF, "--conns", str(CONNS), "--depth", "1", "--duration", str(LOAD_SECONDS),
                    "--warmup", "1", "--proto", "cx", "--port", str(node.port), "--json", f, "--label", label],
                   check=True, stdout=sys.stderr)
    with open(f) as fh:
        return json.load(fh)


def steady(a, nodes, rows):
    """A fixed-rate ingest of rows (JSON lines) through a, a poller on every node; returns the
    figures."""
    batches = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    period = BATCH / RATE
    nxt = [0]
    mu = threading.Lock()
    acks, late, errors = [], [0], []
    done = threading.Event()
    polls = {n.name: [] for n in nodes}
    t0 = time.monotonic() + 0.2

    def writer():
        with a.client() as c:
            while True:
                with mu:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(batches):
                    return
                due = t0 + i * period
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    with mu:
                        late[0] += 1
                recs = parse(batches[i])
                s = time.monotonic()
                try:
                    c.call("ingest", records=recs)
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
                    return
                with mu:
                    acks.append(time.monotonic() - s)

    def poller():
        cs = [(n.name, n.client()) for n in nodes]
        try:
            while not done.is_set():
                for name, c in cs:
                    polls[name].append((time.monotonic(), c.call("stats")["log"]["applied"]))
                time.sleep(POLL_MS / 1000)
        finally:
            for _, c in cs:
                c.close()

    first = last_seq(a)
    pt = threading.Thread(target=poller)
    pt.start()
    ws = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    elapsed = time.monotonic() - t0
    last = last_seq(a)
    wait_applied(nodes, last)
    time.sleep(0.05)
    done.set()
    pt.join()
    if errors:
        raise RuntimeError(f"steady ingest failed: {errors[:3]}")

    def first_seen(series):
        """sequence -> the first poll time at which applied >= it"""
        seen, k = {}, first + 1
        for t, ap in series:
            while k <= ap and k <= last:
                seen[k] = t
                k += 1
        return seen

    seen = {n: first_seen(s) for n, s in polls.items()}
    lags = {}
    for n in polls:
        if n == a.name:
            continue
        lags[n] = [seen[n][s] - seen[a.name][s] for s in range(first + 1, last + 1) if s in seen[n] and s in seen[a.name]]
    allv = [x for v in lags.values() for x in v]
    # what a reader on the replica sees: a message the replica applied before the writer node
    # (before its ack) is visible at the ack, a lag of 0
    vis = {n: [max(0.0, x) for x in v] for n, v in lags.items()}
    allvis = [x for v in vis.values() for x in v]
    gaps = [polls[a.name][i + 1][0] - polls[a.name][i][0] for i in range(len(polls[a.name]) - 1)]
    ms = lambda x: None if x is None else round(x * 1000, 3)  # noqa: E731
    return {
        "rows": len(rows), "batch": BATCH, "target_rows_per_s": RATE, "writers": WRITERS,
        "seconds": round(elapsed, 3), "rows_per_s": round(len(rows) / elapsed, 1),
        "messages": last - first, "late_batches": late[0],
        "ack_ms": {"p50": ms(pct(acks, 0.5)), "p99": ms(pct(acks, 0.99)), "max": ms(max(acks))},
        "poll_period_ms": {"p50": ms(pct(gaps, 0.5)), "p99": ms(pct(gaps, 0.99))},
        "lag_ms": {"p50": ms(pct(allvis, 0.5)), "p99": ms(pct(allvis, 0.99)), "max": ms(max(allvis)), "n": len(allvis),
                   "ahead_of_writer": sum(1 for x in allv if x < 0), "over_100ms": sum(1 for x in allv if x > 0.1),
                   "over_1s": sum(1 for x in allv if x > 1.0)},
        "raw_lag_ms": {"p1": ms(pct(allv, 0.01)), "p50": ms(pct(allv, 0.5)), "p99": ms(pct(allv, 0.99))},
        # where the tail sits: message-replicas per band of lag_ms (upper bounds, ms)
        "lag_bands_ms": {f"<={hi}" if hi else ">500": sum(1 for x in allvis if lo < x * 1000 <= (hi or 1e18))
                         for lo, hi in ((-1, 10), (10, 50), (50, 100), (100, 150), (150, 200), (200, 250),
                                        (250, 300), (300, 500), (500, None))},
        "lag_ms_by_replica": {n: {"p50": ms(pct(v, 0.5)), "p99": ms(pct(v, 0.99)), "n": len(v)} for n, v in vis.items()},
    }


def main():
    out = sys.argv[1]
    res = {}
    total = PRELOAD + int(RATE * SECONDS) + int(RATE * (LOAD_SECONDS + 3)) + CATCHUP
    say(f"chengxin gen: {total} rows (preload {PRELOAD}, steady {int(RATE * SECONDS)}, steady under load "
        f"{int(RATE * (LOAD_SECONDS + 3))}, catch-up {CATCHUP}), seed {SEED}")
    rowsf = os.path.join(WORK, "rows.jsonl")
    subprocess.run([os.path.join(BIN, "chengxin"), "gen", "--out", rowsf, "--entities", str(max(1, total // 10)),
                    "--records", str(total), "--seed", str(SEED), "--quiet"], check=True)
    with open(rowsf, encoding="utf-8") as f:
        rows = f.read().splitlines()
    n_st, n_ld = int(RATE * SECONDS), int(RATE * (LOAD_SECONDS + 3))
    pre, rows = rows[:PRELOAD], rows[PRELOAD:]
    st, rows = rows[:n_st], rows[n_st:]
    ld, cu = rows[:n_ld], rows[n_ld:]
    cuf = os.path.join(WORK, "catchup.jsonl")
    with open(cuf, "w", encoding="utf-8") as f:
        f.write("\n".join(cu) + "\n")

    fd = os.open(os.path.join(WORK, "tokens"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{TOKEN} admin bench-replog\n")
    ports, cports = free_ports(3), free_ports(3)
    natses, nodes = [], []
    try:
        say("3 nats-server (JetStream cluster), 3 chengxind --log")
        natses = [Nats(i, ports, cports) for i in range(3)]
        for n in natses:
            end = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", n.port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > end:
                        raise
                    time.sleep(0.05)
        urls = ",".join(f"nats://127.0.0.1:{p}" for p in ports)
        nodes = [Node(x, urls) for x in "abc"]
        for n in nodes:
            n.start()
        a, c = nodes[0], nodes[2]

        say(f"preload {len(pre)} rows through a")
        secs = ingest_all(a, pre, 1000, WRITERS)
        wait_applied(nodes, last_seq(a))
        res["preload"] = {"rows": len(pre), "batch": 1000, "seconds": round(secs, 3), "rows_per_s": round(len(pre) / secs, 1)}

        say("bench_load check against replica c, idle")
        idle1 = bench_load(c, "replica idle (before)", "idle1")

        say(f"steady ingest: {RATE:.0f} rows/s in batches of {BATCH} for {SECONDS:.0f} s through a")
        res["steady"] = steady(a, nodes, st)

        say(f"steady ingest again ({LOAD_SECONDS + 3} s), bench_load against c from second 2")
        box = {}

        def during():
            time.sleep(2)
            box["load"] = bench_load(c, "replica applying", "during")

        lt = threading.Thread(target=during)
        lt.start()
        res["steady_under_check_load"] = steady(a, nodes, ld)
        lt.join()
        if "load" not in box:
            raise RuntimeError("bench_load during the steady ingest failed")
        if res["steady_under_check_load"]["seconds"] < 2 + LOAD_SECONDS + 1:  # bench_load: 1 s warm-up
            res["steady_under_check_load"]["note"] = "the ingest ended before bench_load did"

        say("bench_load check against replica c, idle again")
        idle2 = bench_load(c, "replica idle (after)", "idle2")
        rps = lambda r: r["req_per_s"]  # noqa: E731
        idle_med = statistics.median([rps(idle1), rps(idle2)])
        res["check"] = {
            "conns": CONNS, "depth": 1, "seconds": LOAD_SECONDS,
            "idle_before": idle1, "applying": box["load"], "idle_after": idle2,
            "applying_vs_idle": round(rps(box["load"]) / idle_med, 4),
            "idle_after_vs_before": round(rps(idle2) / rps(idle1), 4),
        }

        say(f"catch-up: c stopped, {len(cu)} rows through a, c restarted")
        port_c = c.port
        c.stop()
        with a.client() as cl:
            before = cl.call("stats")["log"]["last"]
        secs = ingest_all(a, cu, CATCHUP_BATCH, WRITERS)
        last = last_seq(a)
        t0 = time.monotonic()
        c.start(port_c)
        t_listen = time.monotonic() - t0
        wait_applied([c], last, timeout=600)
        t_caught = time.monotonic() - t0
        res["catchup"] = {
            "rows": len(cu), "batch": CATCHUP_BATCH, "messages": last - before,
            "ingest_while_down_s": round(secs, 3), "ingest_while_down_rows_per_s": round(len(cu) / secs, 1),
            "restart_to_listening_s": round(t_listen, 3), "restart_to_caught_up_s": round(t_caught, 3),
            "rows_per_s": round(len(cu) / t_caught, 1),
        }

        say(f"local import of the same {len(cu)} rows into a fresh store (--batch {CATCHUP_BATCH})")
        fresh = os.path.join(WORK, "db-import")
        subprocess.run([os.path.join(BIN, "chengxin"), "init", "--db", fresh], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        subprocess.run([os.path.join(BIN, "chengxin"), "import", "--db", fresh, "--batch", str(CATCHUP_BATCH),
                        "--quiet", cuf], check=True, stdout=subprocess.DEVNULL)
        t_imp = time.monotonic() - t0
        res["import"] = {"rows": len(cu), "batch": CATCHUP_BATCH, "seconds": round(t_imp, 3),
                         "rows_per_s": round(len(cu) / t_imp, 1)}
        res["catchup_vs_import"] = round(res["catchup"]["rows_per_s"] / res["import"]["rows_per_s"], 4)
        # each node's stats.log at the end: apply_errors (retried after 1 s), publish retries ...
        res["log_stats"] = {}
        for n in nodes:
            with n.client() as cl:
                res["log_stats"][n.name] = cl.call("stats")["log"]
    finally:
        for n in nodes:
            n.stop()
        for n in natses:
            n.stop()
    res["config"] = {"seed": SEED, "server_threads": THREADS, "poll_ms": POLL_MS, "stream": STREAM,
                     "replicas": 3, "nats_servers": 3, "nodes": 3}
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
