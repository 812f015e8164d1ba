#!/usr/bin/env python3
"""End-to-end: clients/python/chengxin_client.py against a real chengxind.

The server runs on an ephemeral loopback port (``--listen 127.0.0.1:0``, the port read from its
"listening on" log line) over a store made by ``chengxin gen`` from a fixed seed; the same seed
written as CSV (``gen --out``, byte-identical records) tells the tests what the store holds.
Tokens come from a mode-0600 file (docs/operations.md "Tokens").

    CX_BIN_DIR=build/bin python3 tests/e2e/python/test_client.py [-v]

Exit status 77 (ctest's SKIP_RETURN_CODE) when python3-msgpack is not installed.
"""

import collections
import contextlib
import csv
import os
import re
import shutil
import socket
import struct
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

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BIN_DIR = os.environ.get("CX_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))

import chengxin_client as cx  # noqa: E402

SEED, ENTITIES, RECORDS = 14, 300, 3000
TODAY = "2025-06-01"  # the server's today (CHENGXIN_TODAY), inside the generator's years

TOK_APPROVAL = "tok-approval-0123456789"
TOK_ANALYST = "tok-analyst-0123456789"
TOK_SUBMITTER = "tok-submitter-0123456789"
TOK_ADMIN = "tok-admin-0123456789"

# ============================================================================ codes

_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(n, prefix="91", region="350100"):
    """A valid unified social credit code (GB 32100) with organisation number n: the store's
    generator never makes these (its region is 350100 but n counts from 90000000)."""
    org = f"{n:08d}"
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2)))
    c9 = 11 - s % 11
    c17 = prefix + region + org + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    r = (31 - sum(_USCC.index(c) * pow(3, i, 31) for i, c in enumerate(c17)) % 31) % 31
    return c17 + _USCC[r]


# ============================================================================ the server


class Server:
    """chengxind over one store; start() returns the port, stop() its exit status."""

    def __init__(self, db, tokens, log):
        self.db, self.tokens, self.log = db, tokens, log
        self.proc = None
        self.port = 0

    def start(self, port=0):
        env = dict(os.environ, CHENGXIN_TODAY=TODAY)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN_DIR, "chengxind"), "--db", self.db, "--listen", f"127.0.0.1:{port}",
                 "--tokens", self.tokens, "--threads", "2"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.log, errors="replace") as f:
                for line in f:
                    if "chengxind: listening on " in line:
                        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                        return self.port
            if self.proc.poll() is not None:
                raise RuntimeError(f"chengxind exited with {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.01)
        self.proc.kill()
        raise RuntimeError(f"chengxind did not start:\n{self.log_text()}")

    def stop(self):
        """SIGTERM, then the exit status (SIGKILL after 10 s: -9)."""
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def restart(self):
        """Stops and starts again on the same port (libuv binds with SO_REUSEADDR)."""
        port = self.port
        self.assert_stopped_cleanly()
        return self.start(port)

    def assert_stopped_cleanly(self):
        rc = self.stop()
        if rc != 0:
            raise AssertionError(f"chengxind exit status {rc}:\n{self.log_text()}")

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


TMP = None
SERVER = None
ROWS = []          # the generated records (CSV rows)
BY_ENTITY = {}     # entity_code -> its rows
ENT = None         # the enterprise with the most records
AUTH = None        # the authority of the most records: the submitter writes for it
OTHER_AUTH = None  # another authority, outside the submitter's scope


def setUpModule():
    global TMP, SERVER, ROWS, BY_ENTITY, ENT, AUTH, OTHER_AUTH
    TMP = tempfile.mkdtemp(prefix="cx-py-")
    db, out = os.path.join(TMP, "db"), os.path.join(TMP, "gen.csv")
    gen = [os.path.join(BIN_DIR, "chengxin"), "gen", "--entities", str(ENTITIES), "--records", str(RECORDS),
           "--seed", str(SEED), "--quiet"]
    subprocess.run(gen + ["--db", db], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(gen + ["--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out, newline="", encoding="utf-8") as f:
        ROWS = list(csv.DictReader(f))
    BY_ENTITY = collections.defaultdict(list)
    for r in ROWS:
        BY_ENTITY[r["entity_code"]].append(r)
    ents = [c for c, rs in BY_ENTITY.items() if rs[0]["entity_kind"] == "enterprise"]
    ENT = max(ents, key=lambda c: (len(BY_ENTITY[c]), c))
    auths = collections.Counter(r["authority_code"] for r in ROWS)
    (AUTH, _), (OTHER_AUTH, _) = auths.most_common(2)
    tokens = os.path.join(TMP, "tokens")
    fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# python client test tokens\n{TOK_APPROVAL} approval 审批系统\n{TOK_ANALYST} analyst analysts\n"
                f"{TOK_SUBMITTER} submitter authorities={AUTH} 提交单位\n{TOK_ADMIN} admin ops\n")
    os.chmod(tokens, 0o600)  # the server refuses a token file readable by others
    SERVER = Server(db, tokens, os.path.join(TMP, "server.log"))
    SERVER.start()


def tearDownModule():
    try:
        if SERVER is not None:
            SERVER.assert_stopped_cleanly()
    finally:
        if TMP:
            shutil.rmtree(TMP, ignore_errors=True)


def client(token=None, **kw):
    kw.setdefault("timeout", 10.0)
    return cx.Client("127.0.0.1", SERVER.port, token=token, **kw)


class ServerCase(unittest.TestCase):
    def assertError(self, code, fn, /, *args, **kw):
        with self.assertRaises(cx.ChengxinError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code, code, cm.exception.message)
        return cm.exception


# ============================================================================ reads


class Reads(ServerCase):
    def test_ping_answers_pong_and_the_servers_today(self):
        with client() as c:
            self.assertEqual(c.ping(), {"pong": True, "today": TODAY, "protocol": "1.3"})
            self.assertEqual(c.role, "public")

    def test_the_catalog_names_the_actions_check_takes(self):
        with client() as c:
            cat = c.catalog()
            actions = {a["code"] for a in cat["actions"]}
            self.assertIn("procurement", actions)
            for m in cat["measures"]:
                self.assertIn(m["effect"], ("deny", "review", "incentive"))
                self.assertTrue(set(m["actions"]) <= actions, m)
                self.assertTrue(m["basis"], m)  # the shipped catalogue names every basis
                self.assertTrue(m["edition"]["title"], m)
            self.assertIn("court_dishonest", {l["code"] for l in cat["lists"]})
            # every action the catalogue names is one check accepts
            with client(TOK_APPROVAL) as a:
                for code in sorted(actions):
                    self.assertEqual(a.call("check", codes=[], action=code)["results"], [])

    def test_a_token_gives_its_role_at_connect_and_by_auth(self):
        with client(TOK_ADMIN) as c:
            self.assertEqual(c.role, "admin")
        with client() as c:
            self.assertEqual(c.auth(TOK_ANALYST), "analyst")
            self.assertEqual(c.role, "analyst")
            self.assertIn("uptime_s", c.stats())

    def test_entity_counts_every_generated_record_for_admin(self):
        with client(TOK_ADMIN) as c:
            e = c.entity(ENT.lower() + "  ")  # any case, surrounding whitespace ignored
        self.assertEqual(e["code"], ENT)
        self.assertEqual(e["name"], BY_ENTITY[ENT][0]["entity_name"])
        self.assertEqual(e["kind"], "enterprise")
        self.assertEqual(e["as_of"], TODAY)
        self.assertEqual(sum(v["total"] for v in e["counts"].values()), len(BY_ENTITY[ENT]))

    def test_records_iterate_every_page_through_the_cursors(self):
        with client(TOK_ADMIN) as c:
            recs = list(c.iter_records(ENT, limit=3))
            first = c.records(ENT, limit=1)
        self.assertEqual(len(recs), len(BY_ENTITY[ENT]))
        self.assertEqual(sorted(r["record_id"] for r in recs), sorted(r["record_id"] for r in BY_ENTITY[ENT]))
        dates = [r["decision_date"] for r in recs]
        self.assertEqual(dates, sorted(dates, reverse=True), "newest decision first")
        self.assertEqual(first["records"][0]["record_id"], recs[0]["record_id"])
        self.assertIsInstance(first["next"], str)

    def test_records_of_one_category(self):
        cat = collections.Counter(r["category"] for r in BY_ENTITY[ENT]).most_common(1)[0][0]
        with client(TOK_ADMIN) as c:
            recs = list(c.iter_records(ENT, category=cat, limit=1000))
        self.assertEqual(len(recs), sum(r["category"] == cat for r in BY_ENTITY[ENT]))
        self.assertTrue(all(r["category"] == cat for r in recs))

    def test_search_finds_an_entity_by_name_prefix(self):
        name = BY_ENTITY[ENT][0]["entity_name"]
        with client(TOK_ADMIN) as c:
            hits = c.search(name, limit=100)
        self.assertIn(ENT, [h["code"] for h in hits])

    def test_check_answers_in_the_order_of_the_codes(self):
        unknown = uscc(12345678)
        with client(TOK_APPROVAL) as c:
            res = c.check([ENT, "BAD", unknown, ENT], "procurement", as_of="2025-01-01")
        self.assertEqual(res["action"], "procurement")
        self.assertEqual(res["as_of"], "2025-01-01")
        v = res["results"]
        self.assertEqual([r["code"] for r in v[:3]], [ENT, "BAD", unknown])
        self.assertIn(v[0]["verdict"], ("deny", "review", "clear"))
        self.assertEqual(v[1]["verdict"], "invalid_code")
        self.assertEqual(v[2]["verdict"], "not_found")
        self.assertEqual(v[3]["same_as"], 0)

    def test_check_many_takes_more_than_one_request_of_codes(self):
        codes = list(BY_ENTITY) * 8 + ["BAD"]  # 2401 codes, each many times
        with client(TOK_APPROVAL) as c:
            res = c.check_many(codes, "bidding", chunk=1000, depth=3)
            single = {r["code"]: r["verdict"] for r in c.check(list(BY_ENTITY), "bidding")["results"]}
        self.assertEqual(len(res), len(codes))
        for i, r in enumerate(res):
            self.assertEqual(r["code"], codes[i])
            if "same_as" in r:  # a repeat within its own request, indexed over codes
                self.assertEqual(codes[r["same_as"]], codes[i])
                self.assertLess(r["same_as"], i)
                self.assertEqual(r["same_as"] // 1000, i // 1000)
            if codes[i] in single:
                self.assertEqual(r["verdict"], single[codes[i]], codes[i])
        self.assertEqual(sum("same_as" not in r for r in res), 3 * len(BY_ENTITY) + 1)

    def test_aggregate_counts_every_record_by_year(self):
        with client(TOK_ANALYST) as c:
            res = c.aggregate(by=["year"], metrics=["count", "on_time_rate"], order="year")
            one = c.aggregate(by=["year"], from_="2024-01-01", to="2024-12-31")
        self.assertEqual(res["columns"], ["year", "count", "on_time_rate"])
        rows = cx.Client.rows_as_dicts(res)
        want = collections.Counter(r["decision_date"][:4] for r in ROWS)
        got = {r["year"]: r["count"] for r in rows}
        for year, n in want.items():  # other tests may add records: at least the generated ones
            self.assertGreaterEqual(got[year], n)
        self.assertEqual([r[0] for r in one["rows"]], ["2024"])

    def test_stats_count_the_ops_served(self):
        with client(TOK_ANALYST) as c:
            c.ping()
            s = c.stats()
        self.assertGreaterEqual(s["ops"]["ping"]["requests"], 1)
        self.assertGreaterEqual(s["store"]["records"], RECORDS)
        self.assertIn("failed", s["auth"])


# ============================================================================ errors


class Errors(ServerCase):
    def test_every_error_code_is_a_protocol_name(self):
        with client() as c:
            for fn in (lambda: c.call("nope"), lambda: c.entity("BAD"), lambda: c.entity(uscc(1)),
                       lambda: c.stats(), lambda: c.search("")):
                try:
                    fn()
                except cx.ChengxinError as e:
                    self.assertIn(e.code, cx.ERROR_CODES)
                else:
                    self.fail("no error")

    def test_unknown_op_answers_its_request_id(self):
        with client() as c:
            e = self.assertError("unknown_op", c.call, "catalogue")
            self.assertIn("catalogue", e.message)
            self.assertGreater(e.id, 0)
            self.assertEqual(c.ping()["pong"], True, "the connection stays open")

    def test_the_client_knows_every_op_the_server_has(self):
        # the server's unknown_op message lists its op table: the client's reads and writes are it
        with client() as c:
            e = self.assertError("unknown_op", c.call, "no_such_op")
        listed = set(re.findall(r"[a-z_]+", e.message.split("expected one of", 1)[1]))
        listed -= {"or", "and"}
        self.assertEqual(listed, set(cx.OPS), e.message)
        self.assertEqual(cx.READ_OPS & cx.WRITE_OPS, frozenset())

    def test_a_bad_token_is_forbidden_and_keeps_the_role(self):
        self.assertError("forbidden", client, "not-a-token-0123456789")
        with client(TOK_APPROVAL) as c:
            self.assertError("forbidden", c.auth, "not-a-token-0123456789")
            self.assertEqual(c.role, "approval")
            c.check([ENT], "procurement")  # still approval

    def test_fifth_bad_token_closes_the_connection_and_reads_reconnect(self):
        with client() as c:
            for _ in range(5):
                self.assertError("forbidden", c.auth, "not-a-token-0123456789")
            self.assertEqual(c.ping()["pong"], True)
            self.assertEqual(c.reconnects, 1)

    def test_a_role_may_run_only_its_ops(self):
        with client() as c:
            self.assertError("forbidden", c.check, [ENT], "procurement")
            self.assertError("forbidden", c.aggregate)
            self.assertError("forbidden", c.ingest, [])
        with client(TOK_APPROVAL) as c:
            self.assertError("forbidden", c.stats)
            self.assertError("forbidden", c.revoke, AUTH, "x", "y")
        with client(TOK_ANALYST) as c:
            self.assertError("forbidden", c.check, [ENT], "procurement")
            self.assertError("forbidden", c.ingest, [])

    def test_bad_requests(self):
        with client(TOK_ADMIN) as c:
            self.assertError("bad_request", c.records, ENT, limit=0)
            self.assertError("bad_request", c.records, ENT, category="nothing")
            self.assertError("bad_request", c.records, ENT, cursor="forged")
            self.assertError("bad_request", c.search, "")
            self.assertError("bad_request", c.call, "entity")  # missing code
            self.assertError("bad_request", c.call, "entity", code=5)
            self.assertError("bad_request", c.entity, ENT, as_of="2025-02-30")
            self.assertError("bad_request", c.check, [ENT], "fly")
            self.assertError("bad_request", c.aggregate, by=["colour"])
        with client() as c:
            e = self.assertError("bad_request", c.entity, ENT, as_of="2024-06-01")
            self.assertIn("today only", e.message)

    def test_invalid_and_unknown_codes(self):
        with client() as c:
            self.assertError("invalid_code", c.entity, "91350100M000100Y4X")
            self.assertError("not_found", c.entity, uscc(4242))
            self.assertError("not_found", c.records, uscc(4242))

    def test_a_frame_over_the_limit_is_refused_before_sending(self):
        big = [{"record_id": "x", "content": "字" * 400000}]  # 1.2 MB of UTF-8
        with client(TOK_SUBMITTER) as c:
            e = self.assertError("too_large", c.ingest, big)
            self.assertIsInstance(e, cx.FrameTooLarge)
            self.assertGreater(e.size, e.limit)
            self.assertEqual(e.limit, 1 << 20)
            self.assertEqual(c.ping()["pong"], True)
            self.assertEqual(c.reconnects, 0, "the connection was not touched")
        with client(max_frame=100) as c:
            self.assertError("too_large", c.search, "x" * 200)

    def test_the_servers_own_limit_answers_id_0_and_closes(self):
        with client(max_frame=4 << 20) as c:  # a client that believes the server takes 4 MiB
            e = self.assertError("too_large", c.entity, "9" * (2 << 20))
            self.assertEqual(e.id, 0)
            self.assertNotIsInstance(e, cx.ClientError)
            self.assertFalse(c.connected)
            self.assertEqual(c.ping()["pong"], True)  # a new connection


# ============================================================================ pipelining


class Pipelining(ServerCase):
    def test_answers_come_back_in_request_order(self):
        reqs, want = [], []
        for i in range(400):
            k = i % 5
            if k == 0:
                reqs.append(("ping", {}))
                want.append("ping")
            elif k == 1:
                reqs.append(("entity", {"code": ENT}))
                want.append(ENT)
            elif k == 2:
                reqs.append(("entity", {"code": f"BAD{i}"}))
                want.append("invalid_code")
            elif k == 3:
                reqs.append(("check", {"codes": [ENT, uscc(i)], "action": "procurement"}))
                want.append("check")
            else:
                reqs.append((f"nope{i}", {}))
                want.append(f"nope{i}")
        with client(TOK_APPROVAL) as c:
            got = c.pipeline(reqs, depth=64)
        self.assertEqual(len(got), len(reqs))
        for w, g in zip(want, got):
            if w == "ping":
                self.assertEqual(g["pong"], True)
            elif w == ENT:
                self.assertEqual(g["code"], ENT)
            elif w == "invalid_code":
                self.assertEqual(g.code, "invalid_code")
            elif w == "check":
                self.assertEqual([r["verdict"] for r in g["results"]][1], "not_found")
            else:
                self.assertEqual(g.code, "unknown_op")
                self.assertIn(w, g.message)

    def test_a_deep_pipeline_of_large_answers_does_not_deadlock(self):
        # 40 pages of every record of ENT (~300 KB each): more than the 4 MiB the server queues
        # per connection before it stops reading it, all sent before the first answer is read.
        with client(TOK_ADMIN) as c:
            got = c.pipeline([("records", {"code": ENT, "limit": 1000})] * 40, depth=40)
        self.assertGreater(len(BY_ENTITY[ENT]), 200)
        self.assertTrue(all(len(g["records"]) == len(BY_ENTITY[ENT]) for g in got))

    def test_ids_are_unsigned_64_bit_and_wrap_to_1(self):
        top = (1 << 64) - 1
        with client(first_id=top - 2) as c:
            ids = [c.send("ping") for _ in range(5)]
            self.assertEqual(ids, [top - 2, top - 1, top, 1, 2])
            answers = [c.recv() for _ in ids]
            self.assertEqual([a.id for a in answers], ids)
            self.assertTrue(all(a.ok and a.value()["pong"] for a in answers))
            e = c.send("nope")
            r = c.recv()
            self.assertEqual((r.id, r.ok, r.error.code, r.error.id), (e, False, "unknown_op", 3))
            self.assertRaises(cx.ChengxinError, r.value)
            self.assertEqual(c.pipeline([("ping", {})])[0]["pong"], True)


# ============================================================================ writes


class Writes(ServerCase):
    def record(self, code, rid, **kw):
        r = {"entity_code": code, "entity_name": "派森客户端测试有限公司", "record_id": rid,
             "authority_code": AUTH, "authority_name": "测试机关", "category": "penalty",
             "decision_date": "2024-06-01", "amount_fen": 500000, "content": "python client test"}
        r.update(kw)
        return r

    def test_ingest_then_every_lifecycle_transition(self):
        code = uscc(70000001)
        with client(TOK_SUBMITTER) as c, client(TOK_ADMIN) as admin:
            self.assertError("not_found", admin.entity, code)
            res = c.ingest([self.record(code, "PY-1")])
            self.assertEqual((res["records"], res["inserted"], res["entities"]), (1, 1, 1))
            self.assertEqual(c.ingest([self.record(code, "PY-1")])["unchanged"], 1, "idempotent")
            self.assertEqual(admin.entity(code)["counts"]["penalty"]["total"], 1)
            steps = [
                (c.repair, (), "repaired", False, 1),
                (c.repair, (), "repaired", False, 0),  # already so: changed 0
                (c.objection, (), "repaired", True, 1),
                (c.objection, (True,), "repaired", False, 1),  # withdraw
                (c.reinstate, (), "active", False, 1),
                (c.revoke, (), "revoked", False, 1),
            ]
            for fn, extra, status, objection, changed in steps:
                r = fn(AUTH, "PY-1", f"{fn.__name__} 测试", *extra)
                self.assertEqual((r["authority"], r["record_id"]), (AUTH, "PY-1"))
                self.assertEqual((r["status"], r["objection"], r["changed"]), (status, objection, changed),
                                 fn.__name__)
            self.assertError("bad_request", c.reinstate, AUTH, "PY-1", "revoked is final")
            self.assertError("not_found", c.repair, AUTH, "PY-none", "no such record")

    def test_repair_before_the_minimum_period_needs_an_admin_override(self):
        code = uscc(70000002)
        rec = self.record(code, "PY-BL", category="blacklist", list_type="court_dishonest", severity="serious",
                          decision_date="2025-05-01")
        with client(TOK_SUBMITTER) as c, client(TOK_ADMIN) as admin:
            c.ingest([rec])
            e = self.assertError("bad_request", c.repair, AUTH, "PY-BL", "too soon")
            self.assertIn("not before", e.message)
            self.assertError("forbidden", c.repair, AUTH, "PY-BL", "too soon", override=True)
            self.assertEqual(admin.repair(AUTH, "PY-BL", "override", override=True)["status"], "repaired")

    def test_a_refused_batch_lists_each_bad_record_and_writes_nothing(self):
        code = uscc(70000003)
        with client(TOK_SUBMITTER) as c:
            e = self.assertError("bad_request", c.ingest, [
                self.record(code, "PY-OK"),
                self.record("91350100M000100Y4X", "PY-BADCODE"),
                self.record(code, "PY-BADCAT", category="zzz")])
            self.assertEqual([d["index"] for d in e.details], [1, 2])
            self.assertIn("entity_code", e.details[0]["message"])
            self.assertError("not_found", c.entity, code)

    def test_a_submitter_writes_only_for_its_authorities(self):
        code = uscc(70000004)
        other = next(r for r in ROWS if r["authority_code"] == OTHER_AUTH)
        with client(TOK_SUBMITTER) as c:
            e = self.assertError("forbidden", c.ingest, [self.record(code, "PY-OTHER", authority_code=OTHER_AUTH)])
            self.assertEqual(e.details[0]["index"], 0)
            self.assertError("forbidden", c.revoke, OTHER_AUTH, other["record_id"], "not ours")
            self.assertError("forbidden", c.objection, OTHER_AUTH, other["record_id"], "not ours")


# ============================================================================ load


class Load(ServerCase):
    def test_an_admin_loads_a_data_file_and_others_may_not(self):
        with open(os.path.join(SOURCE_DIR, "data", "scorecard.tsv"), encoding="utf-8") as f:
            text = f.read()
        with client(TOK_ADMIN) as c:
            self.assertEqual(c.load("scorecard", text), {"name": "scorecard", "bytes": len(text.encode()), "log_seq": 0})
            self.assertError("bad_request", c.load, "calendar", "not\ta calendar\n")
            self.assertError("bad_request", c.load, "tokens", text)
        with client(TOK_SUBMITTER) as c:
            self.assertError("forbidden", c.load, "scorecard", text)

    def test_min_seq_on_a_single_node_is_a_bad_request(self):
        with client(TOK_ADMIN) as c:
            self.assertError("bad_request", c.call, "entity", code=ENT, min_seq=5)
            self.assertEqual(c.call("entity", code=ENT, min_seq=0)["code"], ENT)  # 0: none


# ============================================================================ feedback


class Feedback(ServerCase):
    def test_a_check_receipt_takes_feedback_and_the_aggregate_counts_it(self):
        with client(TOK_APPROVAL) as c:
            res = c.check([ENT, ENT, "BAD"], "subsidy")["results"]
            receipt = res[0]["receipt"]
            self.assertRegex(receipt, r"^[0-9a-f]{32}$")
            self.assertEqual(res[1]["same_as"], 0)  # a repeat: the receipt of result same_as
            self.assertNotIn("receipt", res[1])
            self.assertNotIn("receipt", res[2], "invalid codes are not logged")
            fb = c.feedback(receipt, "restricted", note="不予受理")
            self.assertEqual(fb["receipt"], receipt)
            self.assertEqual((fb["outcome"], fb["action"], fb["verdict"], fb["previous"]),
                             ("restricted", "subsidy", res[0]["verdict"], ""))
            self.assertRegex(fb["checked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            again = c.feedback(receipt, "approved")  # no note: None is not sent
            self.assertEqual((again["outcome"], again["previous"]), ("approved", "restricted"))
            self.assertError("bad_request", c.feedback, receipt, "maybe")
            self.assertError("bad_request", c.feedback, receipt[:-1] + ("0" if receipt[-1] != "0" else "1"), "approved")
            self.assertError("bad_request", c.feedback, receipt, "approved", note="x" * 1025)
        with client(TOK_ANALYST) as c:
            self.assertError("forbidden", c.feedback, receipt, "approved")
            agg = c.aggregate(of="checks", by=["action"], where={"action": ["subsidy"]},
                              metrics=["checks", "feedback", "approved", "restricted_rate"])
            self.assertEqual(agg["columns"], ["action", "checks", "feedback", "approved", "restricted_rate"])
            row = cx.Client.rows_as_dicts(agg)
            self.assertEqual(len(row), 1)
            self.assertGreaterEqual(row[0]["checks"], 1)
            self.assertGreaterEqual(row[0]["approved"], 1)
            s = c.stats()
            self.assertTrue(s["check_log"]["enabled"])
            self.assertGreaterEqual(s["check_log"]["queued"], 1)
            self.assertEqual(s["check_log"]["rejected"], 0)


# ============================================================================ reconnects


class FakeServer:
    """Accepts connections, reads one request frame on each and closes without answering:
    a server that dies while a request is in flight (hold: keeps it open, never answering)."""

    def __init__(self, hold=False):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ops = []
        self.hold = hold
        self.held = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hold:
                self.held.append(conn)
            with (contextlib.nullcontext(conn) if self.hold else conn):
                buf = b""
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                    data = conn.recv(65536)
                    if not data:
                        break
                    buf += data
                if len(buf) >= 4:
                    self.ops.append(msgpack.unpackb(buf[4:4 + struct.unpack(">I", buf[:4])[0]])["op"])

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class Reconnects(ServerCase):
    def test_a_read_reconnects_after_the_server_restarts(self):
        with client(TOK_ADMIN) as c:
            self.assertEqual(c.entity(ENT)["code"], ENT)
            SERVER.restart()
            self.assertEqual(c.entity(ENT)["code"], ENT)
            self.assertEqual(c.reconnects, 1)
            self.assertEqual(c.role, "admin", "the token is presented again")
            self.assertIn("uptime_s", c.stats())

    def test_reads_back_off_until_the_server_is_back(self):
        with client(TOK_ANALYST, retries=8, backoff=0.05, backoff_max=0.5) as c:
            c.ping()
            port = SERVER.port
            SERVER.assert_stopped_cleanly()
            t = threading.Timer(0.5, SERVER.start, args=(port,))
            t0 = time.monotonic()
            t.start()
            try:
                self.assertEqual(c.ping()["today"], TODAY)
            finally:
                t.join()
            self.assertGreater(time.monotonic() - t0, 0.4)
            self.assertEqual(c.role, "analyst")
            self.assertGreaterEqual(c.stats()["uptime_s"], 0)

    def test_retries_are_bounded(self):
        fake = FakeServer()
        try:
            c = cx.Client("127.0.0.1", fake.port, timeout=5, retries=3, backoff=0.01)
            t0 = time.monotonic()
            with self.assertRaises(cx.ConnectionLost) as cm:
                c.ping()
            self.assertLess(time.monotonic() - t0, 2)
            self.assertEqual(fake.ops, ["ping"] * 4, "one try and three retries")
            self.assertNotIsInstance(cm.exception, cx.ClientTimeout)
            c.close()
        finally:
            fake.close()

    def test_a_write_lost_in_flight_is_reported_and_never_sent_again(self):
        fake = FakeServer()
        try:
            with cx.Client("127.0.0.1", fake.port, timeout=5, retries=5, backoff=0.01) as c:
                for fn, args in ((c.ingest, ([{"record_id": "x"}],)), (c.revoke, (AUTH, "x", "why"))):
                    with self.assertRaises(cx.ConnectionLost) as cm:
                        fn(*args)
                    self.assertTrue(cm.exception.sent)
                    self.assertIn("unknown", cm.exception.message)
                with self.assertRaises(cx.ConnectionLost):  # a pipeline holding a write: no retry
                    c.pipeline([("ping", {}), ("repair", {"authority": AUTH, "record_id": "x", "reason": "y"})])
            self.assertEqual(fake.ops, ["ingest", "revoke", "ping"])
        finally:
            fake.close()

    def test_a_read_without_an_answer_times_out_and_is_not_sent_again(self):
        fake = FakeServer(hold=True)
        try:
            with cx.Client("127.0.0.1", fake.port, timeout=0.3, retries=5, backoff=0.01) as c:
                t0 = time.monotonic()
                with self.assertRaises(cx.ClientTimeout) as cm:
                    c.aggregate(by=["year"])
                self.assertGreaterEqual(time.monotonic() - t0, 0.25)
                self.assertTrue(cm.exception.sent)
                self.assertEqual(cm.exception.code, "client_timeout")
                self.assertFalse(c.connected, "a late answer must not be taken for the next request's")
            self.assertEqual(fake.ops, ["aggregate"])
        finally:
            fake.close()

    def test_a_write_while_the_server_is_down_fails_and_is_not_retried_later(self):
        code = uscc(70000005)
        rec = {"entity_code": code, "entity_name": "停机测试有限公司", "record_id": "PY-DOWN",
               "authority_code": AUTH, "category": "penalty", "decision_date": "2024-06-01"}
        with client(TOK_SUBMITTER, retries=8) as c:
            port = SERVER.port
            SERVER.assert_stopped_cleanly()
            try:
                t0 = time.monotonic()
                with self.assertRaises(cx.ConnectionLost) as cm:
                    c.ingest([rec])
                self.assertFalse(cm.exception.sent)
                self.assertLess(time.monotonic() - t0, 0.5, "no back-off loop for a write")
            finally:
                SERVER.start(port)
            self.assertError("not_found", c.entity, code)
            self.assertEqual(c.ingest([rec])["inserted"], 1)  # the caller decides to send it again

    def test_a_write_after_an_idle_restart_goes_out_on_a_new_connection(self):
        code = uscc(70000006)
        rec = {"entity_code": code, "entity_name": "重启测试有限公司", "record_id": "PY-IDLE",
               "authority_code": AUTH, "category": "penalty", "decision_date": "2024-06-01"}
        with client(TOK_SUBMITTER) as c:
            c.ping()
            SERVER.restart()
            time.sleep(0.05)  # the FIN of the old server has arrived
            self.assertEqual(c.ingest([rec])["inserted"], 1)
            self.assertEqual(c.reconnects, 1)


if __name__ == "__main__":
    unittest.main()
