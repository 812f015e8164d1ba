#!/usr/bin/env python3
"""End-to-end: three chengxind nodes replicating through a 3-server NATS JetStream cluster.

Everything runs on loopback and is started and stopped here: three `nats-server` processes
(Debian's binary, config files written into the test's temp dir, ephemeral ports, one cluster,
JetStream on), an R3 stream (created by the first node), three chengxind nodes with `--log`.

    CX_BIN_DIR=build/bin python3 tests/e2e/python/test_cluster.py [-v]

What it checks (docs/scaling.md "What is guaranteed"):
  - writes through two nodes at once land on every node;
  - kill -9 of one NATS server during those writes: writes go on with the quorum and no
    acknowledged write is lost;
  - kill -9 of a chengxind node, writes meanwhile, restart: it catches up from its store's
    position;
  - a publish retried with the same Nats-Msg-Id (CHENGXIN_TEST_LOG_REPUBLISH on node C) is
    acknowledged as a duplicate and applied once;
  - a node whose position the stream no longer holds refuses to start, naming the backup it needs;
  - a store marked as following a stream refuses local writes at position 0 and another stream;
  - a data file (load-catalog ..., the `load` op and `chengxin load-* --connect`) goes through
    the log: every node serves it, a bad one is refused alike;
  - feedback sent to any node reaches the check log of the node that issued the receipt;
  - a write answers its log_seq; a read with min_seq on another node waits for it (msgpack and
    HTTP's X-Min-Seq), or answers timeout after a bounded wait;
  - a read-only replica (--log-writes off) reads the log and refuses writes over msgpack and HTTP;
  - a node that answered person queries keeps their audit lines (its content digest differs)
    while its replicated digest is the others';
  - at the end every node has the same `chengxin verify --replicated-digest`;
  - a node whose writes wait on a log without quorum stops within seconds on SIGTERM, the writes
    answered `timeout` ("shutting down").

Exit status 77 (ctest's SKIP_RETURN_CODE) without nats-server or python3-msgpack.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import msgpack  # noqa: F401  (the client needs it)
except ImportError:
    print("skipped: python3-msgpack is not installed (scripts/deps.sh installs it)", file=sys.stderr)
    sys.exit(77)

NATS = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)
if not NATS:
    print("skipped: nats-server is not installed (scripts/deps.sh installs Debian's nats-server)", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BIN_DIR = os.environ.get("CX_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))
sys.path.insert(0, HERE)

import chengxin_client as cx  # noqa: E402
from test_client import uscc  # noqa: E402

TODAY = "2025-06-01"
TOKEN = "tok-admin-cluster-0123456789"
TOK_APPROVAL = "tok-approval-cluster-0123456789"
AUTH = uscc(11000007, prefix="11")
STREAM = "CX"
PER_BATCH = 10


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Nats:
    def __init__(self, tmp, i, ports, cports):
        self.i, self.port = i, ports[i]
        self.conf = os.path.join(tmp, f"nats{i}.conf")
        self.log = os.path.join(tmp, f"nats{i}.log")
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(cports) if j != i)
        with open(self.conf, "w") as f:
            f.write(f'server_name: "n{i}"\nlisten: "127.0.0.1:{ports[i]}"\n'
                    f'jetstream {{ store_dir: "{os.path.join(tmp, f"js{i}")}" }}\n'
                    f'cluster {{ name: "cxtest"\n  listen: "127.0.0.1:{cports[i]}"\n  routes: [{routes}] }}\n')
        self.proc = None

    def start(self):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([NATS, "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)

    def kill(self):
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class Node:
    def __init__(self, tmp, name, urls, tokens, env=None, stream=STREAM, extra=()):
        self.name, self.urls, self.tokens, self.stream, self.extra = name, urls, tokens, stream, list(extra)
        self.db = os.path.join(tmp, f"db-{name}")
        self.logf = os.path.join(tmp, f"{name}.log")
        self.env = dict(os.environ, CHENGXIN_TODAY=TODAY, **(env or {}))
        self.proc, self.port = None, 0
        # every node starts from one store (docs/scaling.md "A new node"): the same salt, so
        # a receipt or a cursor of one node is valid on every other
        template = os.path.join(os.path.dirname(self.db), "db-template")
        if not os.path.exists(template):
            subprocess.run([os.path.join(BIN_DIR, "chengxin"), "init", "--db", template], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.copytree(template, self.db)

    def spawn(self, port=0):
        with open(self.logf, "a") as log:
            return subprocess.Popen(
                [os.path.join(BIN_DIR, "chengxind"), "--db", self.db, "--listen", f"127.0.0.1:{port}", "--tokens",
                 self.tokens, "--threads", "2", "--log", self.urls, "--stream", self.stream, "--node", self.name,
                 "--max-lag", "1000"] + self.extra,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=self.env)

    def start(self, port=0):
        start_at = os.path.getsize(self.logf) if os.path.exists(self.logf) else 0
        self.proc = self.spawn(port)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            with open(self.logf, errors="replace") as f:
                f.seek(start_at)
                for line in f:
                    if "chengxind: listening on " in line:
                        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                        return self.port
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_text()}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        if not self.proc:
            return 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def client(self, token=TOKEN):
        return cx.Client("127.0.0.1", self.port, token=token, timeout=40.0)

    def log_stats(self):
        with self.client() as c:
            return c.call("stats")["log"]

    def log_text(self):
        with open(self.logf, errors="replace") as f:
            return f.read()

    def digest(self, which="--digest"):
        out = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "verify", which, "--db", self.db],
                             check=True, capture_output=True, text=True).stdout.split()
        return out[-1]


def batch(tag, k):
    """PER_BATCH records of one entity: entity per (writer, batch), ids unique."""
    code = uscc(30000000 + k) if tag == "a" else uscc(40000000 + k) if tag == "b" else uscc(50000000 + k)
    return code, [{"entity_code": code, "entity_name": f"企业{tag}{k}", "record_id": f"{tag}-{k}-{j}",
                   "authority_code": AUTH, "authority_name": "某市市场监督管理局", "category": "penalty",
                   "decision_date": "2024-03-01", "amount_fen": 1000 * (j + 1)} for j in range(PER_BATCH)]


TMP = None
NATSES = []
NODES = {}
ACKED = {}  # entity code -> record count acknowledged
ACKED_MU = threading.Lock()


def setUpModule():
    try:
        start_everything()
    except BaseException:
        tearDownModule()  # unittest does not call it when setUpModule fails
        raise


def start_everything():
    global TMP, NATSES
    TMP = tempfile.mkdtemp(prefix="cx-cluster-")
    ports, cports = free_ports(3), free_ports(3)
    NATSES = [Nats(TMP, i, ports, cports) for i in range(3)]
    for n in NATSES:
        n.start()
    for n in NATSES:
        wait_port(n.port)
    tokens = os.path.join(TMP, "tokens")
    fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{TOKEN} admin cluster-ops\n{TOK_APPROVAL} approval approvals\n")
    urls = ",".join(f"nats://127.0.0.1:{p}" for p in ports)
    NODES["a"] = Node(TMP, "a", urls, tokens, extra=["--http", "127.0.0.1:0"])
    NODES["b"] = Node(TMP, "b", urls, tokens)
    NODES["c"] = Node(TMP, "c", urls, tokens, env={"CHENGXIN_TEST_LOG_REPUBLISH": "1"})
    for n in NODES.values():
        n.start()


def tearDownModule():
    try:
        for n in NODES.values():
            if n.proc:
                n.stop()
        for n in NATSES:
            n.stop()
    finally:
        if TMP and not os.environ.get("CX_KEEP_TMP"):
            shutil.rmtree(TMP, ignore_errors=True)


def write(node, tag, ks, errors):
    """Ingests batches ks through node; records what was acknowledged."""
    with node.client() as c:
        for k in ks:
            code, recs = batch(tag, k)
            try:
                r = c.call("ingest", records=recs)
                if r["inserted"] + r["unchanged"] + r["replaced"] == PER_BATCH:
                    with ACKED_MU:
                        ACKED[code] = PER_BATCH
            except cx.ChengxinError as e:  # a write the log did not ack in time: not acknowledged
                errors.append(f"{tag}-{k}: {e.code} {e.message}")


def wait_caught_up(nodes, timeout=30.0):
    end = time.monotonic() + timeout
    while True:
        st = [n.log_stats() for n in nodes]
        last = max(s["last"] for s in st)
        if all(s["applied"] == last and s["lag"] == 0 for s in st):
            return last
        if time.monotonic() > end:
            raise AssertionError(f"not caught up: {st}")
        time.sleep(0.1)


def stable_caught_up(nodes, quiet=1.0, timeout=30.0):
    """wait_caught_up, again after `quiet` seconds, until both give the same position."""
    end = time.monotonic() + timeout
    last = wait_caught_up(nodes, timeout)
    while True:
        time.sleep(quiet)
        now = wait_caught_up(nodes, timeout)
        if now == last:
            return now
        if time.monotonic() > end:
            raise AssertionError(f"the log kept moving: {last} then {now}")
        last = now


class Cluster(unittest.TestCase):
    def assert_everything_acknowledged_is_on(self, node):
        with node.client() as c:
            for code, n in sorted(ACKED.items()):
                self.assertEqual(len(c.call("records", code=code, limit=100)["records"]), n, (node.name, code))

    def test_1_writes_through_two_nodes_survive_a_nats_server_killed(self):
        errors = []
        ta = threading.Thread(target=write, args=(NODES["a"], "a", range(0, 30), errors))
        tb = threading.Thread(target=write, args=(NODES["b"], "b", range(0, 30), errors))
        ta.start(), tb.start()
        time.sleep(0.5)
        NATSES[2].kill()  # kill -9: a quorum of 2 stays
        ta.join(), tb.join()
        # after the kill too, writes went on through both nodes
        errors2 = []
        write(NODES["a"], "a", range(30, 35), errors2)
        write(NODES["b"], "b", range(30, 35), errors2)
        self.assertEqual(errors2, [], "writes after the kill of one NATS server")
        self.assertGreaterEqual(len(ACKED), 60 - len(errors), errors)
        wait_caught_up(list(NODES.values()))
        for n in NODES.values():
            self.assert_everything_acknowledged_is_on(n)

    def test_2_a_killed_node_catches_up_after_restart(self):
        b = NODES["b"]
        port = b.port
        b.kill()  # kill -9
        errors = []
        write(NODES["a"], "a", range(100, 110), errors)
        self.assertEqual(errors, [])
        b.start(port)
        last = wait_caught_up(list(NODES.values()))
        self.assertEqual(b.log_stats()["applied"], last)
        self.assert_everything_acknowledged_is_on(b)
        # reads its own writes right after its restart
        errors = []
        write(b, "b", range(100, 103), errors)
        self.assertEqual(errors, [])
        with b.client() as c:
            self.assertEqual(len(c.call("records", code=batch("b", 102)[0], limit=100)["records"]), PER_BATCH)

    def test_3_a_retried_publish_is_applied_once(self):
        c = NODES["c"]
        # b's restart published its epoch message: a baseline no node's message can still move
        # (seen once: a stream one message past every node's view when the writes began)
        stable_caught_up(list(NODES.values()))
        before = c.log_stats()
        errors = []
        write(c, "c", range(0, 5), errors)
        self.assertEqual(errors, [])
        after = c.log_stats()
        self.assertEqual(after["published"] - before["published"], 5)
        self.assertEqual(after["duplicates"] - before["duplicates"], 5)  # every retry was a duplicate
        last = wait_caught_up(list(NODES.values()))
        self.assertEqual(last - before["last"], 5,
                         f"one stream message per write: c before {before}, after {[n.log_stats() for n in NODES.values()]}")
        # a lifecycle change through the retrying node: one transition, one audit line
        with c.client() as cl:
            r = cl.call("repair", authority=AUTH, record_id="c-0-0", reason="修复完成")
            self.assertEqual((r["status"], r["changed"]), ("repaired", 1))
            e = None
            try:
                cl.call("reinstate", authority=AUTH, record_id="no-such-record", reason="x")
            except cx.ChengxinError as ex:
                e = ex
            self.assertIsNotNone(e)
            self.assertEqual(e.code, "not_found")
        wait_caught_up(list(NODES.values()))
        for n in NODES.values():
            with n.client() as cl:
                recs = cl.call("records", code=batch("c", 0)[0], limit=100)["records"]
                self.assertEqual([r["status"] for r in recs if r["record_id"] == "c-0-0"], ["repaired"])

    def test_4_a_node_behind_the_streams_retention_refuses_to_start(self):
        # a stream keeping 3 messages; 5 writes; a fresh store (position 0) cannot follow it
        urls = NODES["a"].urls
        d = Node(TMP, "d", urls, NODES["a"].tokens, stream="CXSHORT", extra=["--log-max-msgs", "3"])
        d.start()
        try:
            errors = []
            write(d, "d", range(0, 5), errors)
            self.assertEqual(errors, [])
        finally:
            self.assertEqual(d.stop(), 0)
        e = Node(TMP, "e", urls, NODES["a"].tokens, stream="CXSHORT")
        p = e.spawn()
        try:
            rc = p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(rc, 1, e.log_text())
        self.assertIn("needs a newer backup", e.log_text())
        self.assertIn("now begins at 4", e.log_text())  # d's epoch message and 5 writes: 6, keeping 3

    def test_4b_a_store_follows_one_stream_from_the_start(self):
        # a store that followed CX is refused by a server started with another stream
        f = Node(TMP, "f", NODES["a"].urls, NODES["a"].tokens, stream="CXOTHER")
        subprocess.run([os.path.join(BIN_DIR, "chengxin"), "init", "--db", f.db + "-marked", "--follows", STREAM],
                       check=True, capture_output=True)
        f.db = f.db + "-marked"
        p = f.spawn()
        try:
            rc = p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(rc, 1, f.log_text())
        self.assertIn(f"this store follows stream {STREAM}, not CXOTHER", f.log_text())
        # at position 0 it refuses a local write already
        rows = os.path.join(TMP, "rows.csv")
        with open(rows, "w", encoding="utf-8") as fh:
            fh.write("entity_code,entity_name,record_id,authority_code,authority_name,category,decision_date\n"
                     f"{uscc(60000001)},某公司,f-1,{AUTH},某局,penalty,2024-03-01\n")
        p = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "import", "--db", f.db, rows], capture_output=True,
                           text=True, env=dict(os.environ, CHENGXIN_TODAY=TODAY))
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertIn("replicated log", p.stderr)
        # chengxin info names the stream it follows
        p = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "info", "--db", f.db, "--format", "json"],
                           capture_output=True, text=True, check=True)
        self.assertIn(f'"log_stream": "{STREAM}"', p.stdout.replace('":"', '": "'))

    def test_4c_a_nodes_receipt_epoch_is_above_those_its_store_gave_alone(self):
        g = Node(TMP, "g", NODES["a"].urls, NODES["a"].tokens, stream="CXEPOCH")
        for _ in range(3):  # three single-node runs: receipt epochs 1, 2, 3 in the store
            p = subprocess.Popen([os.path.join(BIN_DIR, "chengxind"), "--db", g.db, "--listen", "127.0.0.1:0",
                                  "--tokens", g.tokens], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=g.env, text=True)
            for line in p.stderr:
                if "listening on" in line:
                    break
            p.terminate()
            p.stderr.read()
            p.stderr.close()
            self.assertEqual(p.wait(15), 0)
        g.start()  # a fresh epochs' stream: its messages 1, 2, 3 are epochs the store gave: not again
        try:
            st = g.log_stats()
            self.assertEqual(st["receipt_epoch"], 4, st)
            # the epochs' stream took four messages; the batches' stream one: the claim of epoch 4
            self.assertEqual(st["last"], 1, "one claim in the batches' stream")
        finally:
            self.assertEqual(g.stop(), 0, g.log_text())

    def test_4d_a_message_past_the_logs_payload_limit_is_refused_with_why(self):
        # a node taking 4 MiB frames: a 1.5 MB region table (padded with comments) passes the
        # door but not NATS's max_payload (1 MiB): too_large at once, not a timeout; nothing
        # reaches the stream, and the node goes on serving
        h = Node(TMP, "h", NODES["a"].urls, NODES["a"].tokens, stream="CXBIG", extra=["--max-frame", "4194304"])
        h.start()
        try:
            with open(os.path.join(SOURCE_DIR, "data", "regions.tsv"), encoding="utf-8") as f:
                text = f.read()
            text = ("# padding\n" * 150000) + text
            self.assertGreater(len(text.encode()), 1 << 20)
            before = h.log_stats()
            t0 = time.monotonic()
            with cx.Client("127.0.0.1", h.port, token=TOKEN, timeout=40.0, max_frame=4 << 20) as c:
                with self.assertRaises(cx.ChengxinError) as ctx:
                    c.call("load", name="regions", text=text)
            self.assertLess(time.monotonic() - t0, 3.0, "refused at once")
            self.assertEqual(ctx.exception.code, "too_large", ctx.exception.message)
            self.assertIn("max_payload", ctx.exception.message)
            after = h.log_stats()
            self.assertEqual(after["last"], before["last"], "nothing in the stream")
            with h.client() as c:
                self.assertEqual(c.call("load", name="scorecard",
                                        text=open(os.path.join(SOURCE_DIR, "data", "scorecard.tsv"),
                                                  encoding="utf-8").read())["name"], "scorecard")
        finally:
            self.assertEqual(h.stop(), 0, h.log_text())

    def test_5_a_data_file_goes_through_the_log_to_every_node(self):
        with open(os.path.join(SOURCE_DIR, "data", "catalog.tsv"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("\t政府采购\n", text)
        text = text.replace("\t政府采购\n", "\t政府采购（集群）\n")
        b = NODES["b"]
        before = b.log_stats()
        with b.client() as c:
            r = c.call("load", name="catalog", text=text)
        self.assertEqual(r["name"], "catalog")
        self.assertGreater(r["log_seq"], before["applied"])
        # the writer answered after its own apply; every node then serves the new catalogue
        wait_caught_up(list(NODES.values()))
        for n in NODES.values():
            end = time.monotonic() + 5
            while True:  # the query context is rebuilt on the node's main loop after the apply
                with n.client() as c:
                    names = {a["code"]: a["name"] for a in c.call("catalog")["actions"]}
                if names["procurement"] == "政府采购（集群）" or time.monotonic() > end:
                    break
                time.sleep(0.05)
            self.assertEqual(names["procurement"], "政府采购（集群）", n.name)
        # a bad file is refused alike by every node (its message moves the position alone)
        with NODES["a"].client() as c:
            with self.assertRaises(cx.ChengxinError) as ctx:
                c.call("load", name="calendar", text="not\ta calendar\n")
        self.assertEqual(ctx.exception.code, "bad_request")
        self.assertIn("line 1", ctx.exception.message)
        # the CLI through a node, with a token file: returns after that node applied it
        tf = os.path.join(TMP, "token-file")
        fd = os.open(tf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(TOKEN + "\n")
        p = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "load-scorecard", "--connect",
                            f"127.0.0.1:{NODES['c'].port}", "--token-file", tf,
                            os.path.join(SOURCE_DIR, "data", "scorecard.tsv")], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("log sequence", p.stderr)
        wait_caught_up(list(NODES.values()))

    def test_6_feedback_sent_to_any_node_reaches_the_node_that_issued_the_receipt(self):
        a, b = NODES["a"], NODES["b"]
        code = batch("a", 1)[0]

        def checks_feedback(node):
            with node.client() as c:
                rows = c.call("aggregate", of="checks", by=["action"], metrics=["checks", "feedback", "restricted"])["rows"]
            return {r[0]: r[1:] for r in rows}.get("procurement", [0, 0, 0])

        before = checks_feedback(a)
        with a.client(TOK_APPROVAL) as c:
            receipt = c.call("check", codes=[code], action="procurement")["results"][0]["receipt"]
            own = c.call("check", codes=[code], action="procurement")["results"][0]["receipt"]
        self.assertNotEqual(receipt, own)
        # to another node: validated (the MAC: one salt), published, applied by the issuer
        with b.client(TOK_APPROVAL) as c:
            fb = c.call("feedback", receipt=receipt, outcome="restricted", note="不予受理")
            self.assertEqual((fb["outcome"], fb["action"]), ("restricted", ""), "b does not hold a's check")
            self.assertEqual(fb["issued_by"], "a")
            self.assertGreater(fb["log_seq"], 0)
            with self.assertRaises(cx.ChengxinError) as ctx:
                c.call("feedback", receipt=receipt[:-1] + ("0" if receipt[-1] != "0" else "1"), outcome="approved")
            self.assertEqual(ctx.exception.code, "bad_request")
        # to the issuing node itself: the answer has the check
        with a.client(TOK_APPROVAL) as c:
            fb = c.call("feedback", receipt=own, outcome="approved")
            self.assertEqual((fb["action"], fb["previous"], fb["issued_by"]), ("procurement", "", "a"))
        wait_caught_up(list(NODES.values()))
        after = checks_feedback(a)
        self.assertEqual(after[0] - before[0], 2, "two checks on a")
        self.assertEqual(after[1] - before[1], 2, "both feedbacks counted on the issuing node")
        self.assertEqual(after[2] - before[2], 1, "the one sent to b is restricted")
        # the issuer's check log is a's own: b counts no checks of a's
        self.assertEqual(checks_feedback(b)[0], 0)

    def test_6b_a_read_with_min_seq_sees_a_write_made_through_another_node(self):
        import json
        import re
        import urllib.request
        a, b = NODES["a"], NODES["b"]
        code, recs = batch("b", 500)
        with b.client() as c:
            w = c.call("ingest", records=recs)
            self.assertGreater(w["log_seq"], 0, "a replicated write names its sequence")
            r = c.call("repair", authority=AUTH, record_id="b-500-0", reason="修复完成")
            self.assertEqual(r["log_seq"], w["log_seq"] + 1)
        with a.client() as c:  # at once on another node: it has applied the write, or waits for it
            got = c.call("records", code=code, limit=100, min_seq=r["log_seq"])["records"]
            self.assertEqual(len(got), PER_BATCH)
            self.assertEqual([x["status"] for x in got if x["record_id"] == "b-500-0"], ["repaired"])
        # a read that must wait: min_seq is the next message, written 1 s later through b
        nxt = wait_caught_up(list(NODES.values())) + 1
        code2, recs2 = batch("b", 501)
        out = {}

        def read():
            t0 = time.monotonic()
            with a.client() as c:
                out["recs"] = c.call("records", code=code2, limit=100, min_seq=nxt)["records"]
            out["took"] = time.monotonic() - t0

        def read_http():
            hport = int(re.search(r"http listening on 127\.0\.0\.1:(\d+)", a.log_text()).group(1))
            rq = urllib.request.Request(f"http://127.0.0.1:{hport}/v1/entities/{code2}",
                                        headers={"Authorization": f"Bearer {TOKEN}", "X-Min-Seq": str(nxt)})
            with urllib.request.urlopen(rq, timeout=10) as resp:
                out["http"] = json.loads(resp.read())

        ts = [threading.Thread(target=read), threading.Thread(target=read_http)]
        for t in ts:
            t.start()
        time.sleep(1.0)
        with b.client() as c:
            self.assertEqual(c.call("ingest", records=recs2)["log_seq"], nxt)
        for t in ts:
            t.join(15)
        self.assertEqual(len(out["recs"]), PER_BATCH, "the read waited for its min_seq")
        self.assertGreater(out["took"], 0.9)
        self.assertEqual(out["http"]["code"], code2)
        # a sequence this node does not reach in time: a clear error after a bounded wait
        with a.client() as c:
            t0 = time.monotonic()
            with self.assertRaises(cx.ChengxinError) as ctx:
                c.call("entity", code=code2, min_seq=nxt + 1000)
            self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(ctx.exception.code, "timeout")
        self.assertIn("not yet", ctx.exception.message)

    def test_7_a_node_that_answered_person_queries_audits_them_for_itself(self):
        person = "11010519491231002X"
        rec = {"entity_code": person, "entity_name": "张某某", "entity_kind": "person", "record_id": "p-1",
               "authority_code": AUTH, "authority_name": "某市市场监督管理局", "category": "penalty",
               "decision_date": "2024-03-01"}
        with NODES["b"].client() as c:
            c.call("ingest", records=[rec])
        wait_caught_up(list(NODES.values()))
        with NODES["a"].client() as c:  # admin reads of a person: audited, on a only
            self.assertEqual(c.call("entity", code=person)["code"], person)
            self.assertEqual(len(c.call("records", code=person)["records"]), 1)

    def test_8_a_read_only_replica_refuses_writes_naming_itself(self):
        import json
        import re
        import urllib.request
        r = Node(TMP, "r", NODES["a"].urls, NODES["a"].tokens, extra=["--log-writes", "off", "--http", "127.0.0.1:0"])
        r.start()
        try:
            wait_caught_up([NODES["a"], r])
            self.assertFalse(r.log_stats()["writes"])
            self.assertTrue(NODES["a"].log_stats()["writes"])
            self.assertNotEqual(r.log_stats()["receipt_epoch"], NODES["a"].log_stats()["receipt_epoch"])
            code, recs = batch("a", 0)
            with r.client() as c:  # it reads what the log holds
                self.assertEqual(len(c.call("records", code=code, limit=100)["records"]), PER_BATCH)
                for op, fields in (("ingest", {"records": recs}),
                                   ("repair", {"authority": AUTH, "record_id": "a-0-0", "reason": "x"}),
                                   ("load", {"name": "scorecard", "text": "publish\tno\n"})):
                    with self.assertRaises(cx.ChengxinError) as ctx:
                        c.call(op, **fields)
                    self.assertEqual(ctx.exception.code, "forbidden", op)
                    self.assertIn("node r is a read-only replica", ctx.exception.message)
            hport = int(re.search(r"http listening on 127\.0\.0\.1:(\d+)", r.log_text()).group(1))
            rq = urllib.request.Request(f"http://127.0.0.1:{hport}/v1/ingest", data=json.dumps({"records": recs}).encode(),
                                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen(rq, timeout=10)
            self.assertEqual(ctx.exception.code, 403)
            body = json.loads(ctx.exception.read())
            self.assertEqual(body["error"]["code"], "forbidden")
            self.assertIn("node r is a read-only replica", body["error"]["message"])
            # /metrics says the same as stats.log (a replica's applied sequence, its switch, its epoch)
            with urllib.request.urlopen(f"http://127.0.0.1:{hport}/metrics", timeout=10) as resp:
                metrics = resp.read().decode()
            st = r.log_stats()
            got = dict(re.findall(r"^(chengxin_log_[a-z_]+) (\S+)$", metrics, re.M))
            self.assertEqual(float(got["chengxin_log_writes_accepted"]), 0.0)
            self.assertEqual(float(got["chengxin_log_receipt_epoch"]), float(st["receipt_epoch"]))
            self.assertGreaterEqual(float(got["chengxin_log_applied_sequence"]), 1.0)
            self.assertEqual(float(got["chengxin_log_connected"]), 1.0)
        finally:
            self.assertEqual(r.stop(), 0, r.log_text())

    def test_9_every_node_has_the_same_digest(self):
        wait_caught_up(list(NODES.values()))
        for n in NODES.values():
            self.assertEqual(n.stop(), 0, n.log_text())
        digests = {n.name: n.digest("--replicated-digest") for n in NODES.values()}
        self.assertEqual(len(set(digests.values())), 1, digests)
        # the audit log stays complete: a's own read audits are in its content digest
        content = {n.name: n.digest() for n in NODES.values()}
        self.assertEqual(content["b"], content["c"])
        self.assertNotEqual(content["a"], content["b"], "a's read audits are in its audit log")

    def test_z_a_node_stops_promptly_while_its_writes_wait_on_the_log(self):
        # (last: it takes the quorum away; unittest runs tests in name order, and "test_99" came
        # before "test_9_", whose digests then waited for a log without quorum) a node, then one
        # more NATS server killed: 1 of 3 left
        n = Node(TMP, "s", NODES["a"].urls, NODES["a"].tokens)
        n.start()
        wait_caught_up([n])
        NATSES[1].kill()
        errors, done = [], []

        def one():
            t0 = time.monotonic()
            try:
                with n.client() as c:
                    c.call("ingest", records=batch("a", 900)[1])
            except (cx.ChengxinError, cx.ConnectionLost) as e:
                errors.append(e)
            done.append(time.monotonic() - t0)

        th = threading.Thread(target=one)
        th.start()
        time.sleep(1.0)  # the write is retrying its publish (no quorum: no ack)
        t0 = time.monotonic()
        n.proc.terminate()
        rc = n.proc.wait(15)
        took = time.monotonic() - t0
        n.proc = None
        th.join(15)
        self.assertEqual(rc, 0, n.log_text())
        self.assertLess(took, 6.0, f"stopped in {took:.1f} s:\n{n.log_text()}")
        self.assertEqual(len(errors), 1, "the waiting write was answered, not acknowledged")
        e = errors[0]
        self.assertNotIsInstance(e, cx.ConnectionLost, "answered before the connection closed")
        self.assertEqual(e.code, "timeout")
        self.assertIn("shutting down", e.message)
        self.assertLess(done[0], 8.0)


if __name__ == "__main__":
    unittest.main()
