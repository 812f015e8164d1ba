#!/usr/bin/env python3
"""End-to-end: chengxind's HTTP/JSON door (docs/protocol.md section 11) against a real server.

A real chengxind with ``--http 127.0.0.1:0`` (and, for the TLS cases, a second one with a
self-signed certificate made by ``openssl``) over a store made by ``chengxin gen`` from a seed.
Every op is reached over HTTP and its answer compared with the msgpack door's answer to the
same request (clients/python); errors map to their HTTP statuses; keep-alive, gzip, request ids,
HTTP/2 (h2c upgrade-free prior knowledge is not spoken by http.client: ALPN over TLS is
checked), /healthz, /readyz, /metrics (``promtool check metrics``) and /v1/openapi.json (its
examples replayed and compared).

    CX_BIN_DIR=build/bin python3 tests/e2e/python/test_http.py [-v]

Exit status 77 (ctest's SKIP_RETURN_CODE) when python3-msgpack is not installed.
"""

import gzip
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

try:
    import msgpack  # noqa: F401
except ImportError:
    print("skipped: python3-msgpack is not installed (scripts/deps.sh installs it)", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BIN_DIR = os.environ.get("CX_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))
import chengxin_client as cx  # noqa: E402

TODAY = "2025-06-01"  # the day of the OpenAPI examples
TOKENS = {"approval": "tok-approval-0123456789", "analyst": "tok-analyst-0123456789",
          "submitter": "tok-submitter-0123456789", "admin": "tok-admin-0123456789"}
MISSING = "91350100123456788Q"  # a valid code the generator never makes (the examples use it)
NEW = "9135010022345670XW"  # another: the ingest test writes it


class Server:
    def __init__(self, tmp, db, tokens, extra=()):
        self.db, self.tokens, self.extra = db, tokens, list(extra)
        self.log = os.path.join(tmp, f"server-{len(os.listdir(tmp))}.log")
        self.proc, self.port, self.http_port = None, 0, 0

    def start(self):
        env = dict(os.environ, CHENGXIN_TODAY=TODAY)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN_DIR, "chengxind"), "--db", self.db, "--listen", "127.0.0.1:0", "--http",
                 "127.0.0.1:0", "--tokens", self.tokens, "--threads", "2"] + self.extra,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.log, errors="replace") as f:
                for line in f:
                    if "chengxind: http listening on " in line:
                        self.http_port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                    elif "chengxind: listening on " in line:
                        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
            if self.port and self.http_port:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"chengxind exited with {self.proc.returncode}:\n{self.text()}")
            time.sleep(0.01)
        self.proc.kill()
        raise RuntimeError(f"chengxind did not start:\n{self.text()}")

    def stop(self):
        if not self.proc:
            return 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.proc = None
        return rc

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


TMP = SRV = None
ENT = GOV = AUTH = None


def setUpModule():
    global TMP, SRV, ENT, GOV, AUTH
    TMP = tempfile.mkdtemp(prefix="cx-http-")
    db = os.path.join(TMP, "db")
    subprocess.run([os.path.join(BIN_DIR, "chengxin"), "gen", "--db", db, "--entities", "300", "--records", "3000",
                    "--seed", "21", "--quiet"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # a submitter writes for the authority of an enterprise's first record (found below)
    out = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "search", "--db", db, "--format", "csv", "91"],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    ENT = out[1].split(",")[0]
    GOV = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "search", "--db", db, "--format", "csv", "11"],
                         check=True, capture_output=True, text=True).stdout.splitlines()[1].split(",")[0]
    first = subprocess.run([os.path.join(BIN_DIR, "chengxin"), "records", "--db", db, "--format", "jsonl", "--limit",
                            "1", GOV], capture_output=True, text=True).stdout.splitlines()[0]
    AUTH = json.loads(first)["authority_code"]  # the submitter writes for it
    tokens = os.path.join(TMP, "tokens")
    fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for role, tok in TOKENS.items():
            scope = f" authorities={AUTH}" if role == "submitter" else ""
            f.write(f"{tok} {role}{scope} {role}-http\n")
    SRV = Server(TMP, db, tokens)
    SRV.start()


def tearDownModule():
    try:
        if SRV:
            rc = SRV.stop()
            if rc != 0:
                raise AssertionError(f"chengxind exit status {rc}:\n{SRV.text()}")
            assert "stopped" in SRV.text()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


def req(method, path, body=None, role="public", headers=None, conn=None, raw=None):
    """One request; (status, headers dict, parsed JSON or text)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", SRV.http_port, timeout=10)
    h = dict(headers or {})
    if role != "public":
        h["Authorization"] = f"Bearer {TOKENS.get(role, role)}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    if own:
        conn.close()
    if hd.get("content-encoding") == "gzip":
        payload = gzip.decompress(payload)
    if hd.get("content-type", "").startswith("application/json"):
        return r.status, hd, json.loads(payload)
    return r.status, hd, payload.decode()


def mp(op, role="public", **fields):
    tok = TOKENS.get(role) if role != "public" else None
    with cx.Client("127.0.0.1", SRV.port, token=tok, timeout=10) as c:
        try:
            return c.call(op, **fields)
        except cx.ChengxinError as e:
            return {"error": {"code": e.code, "message": e.message}}


class SameAsMsgpack(unittest.TestCase):
    """Each op over HTTP answers what the msgpack door answers to the same request."""

    def same(self, method, path, op, role="public", body=None, **fields):
        st, _, got = req(method, path, body, role)
        want = mp(op, role, **fields)
        # every check has its own receipt: the two answers are the same but for those
        def norec(v):
            if isinstance(v, dict):
                return {k: norec(x) for k, x in v.items() if k != "receipt"}
            if isinstance(v, list):
                return [norec(x) for x in v]
            return v
        self.assertEqual(norec(got), norec(want), f"{method} {path} as {role}")
        return st, got

    def test_every_read_op(self):
        q = urllib.parse.quote
        self.assertEqual(self.same("GET", "/v1/ping", "ping")[0], 200)
        for role in ("public", "analyst", "admin"):
            self.same("GET", f"/v1/entities/{ENT}", "entity", role, code=ENT)
            self.same("GET", f"/v1/entities/{GOV}/records?limit=5", "records", role, code=GOV, limit=5)
            self.same("GET", f"/v1/search?q={q('福州')}&limit=3", "search", role, prefix="福州", limit=3)
            self.same("GET", "/v1/catalog", "catalog", role)
        self.same("POST", "/v1/check", "check", "approval", {"codes": [ENT, MISSING, "123"], "action": "procurement"},
                  codes=[ENT, MISSING, "123"], action="procurement")
        # 政务诚信评价: a body's scorecard (and a drill-down), a province ranked, as msgpack answers them
        for role in ("analyst", "admin"):
            st, sc = self.same("GET", f"/v1/scorecards/{GOV}?year=2024", "scorecard", role, code=GOV, year=2024)
            self.assertEqual(st, 200, sc)
            self.assertEqual(sc["code"], GOV)
            st, d = self.same("GET", f"/v1/scorecards/{GOV}?year=2024&indicator=lawsuit_loss_rate&limit=5", "scorecard",
                              role, code=GOV, year=2024, indicator="lawsuit_loss_rate", limit=5)
            self.assertEqual(st, 200, d)
            st, rk = self.same("GET", "/v1/scorecards?region=35&year=2024", "scorecards", role, region=35, year=2024)
            self.assertEqual(st, 200, rk)
            self.assertIn(GOV, [b["code"] for b in rk["bodies"]])
        st, _ = self.same("GET", "/v1/scorecards?region=35&year=2024", "scorecards", "public", region=35, year=2024)
        self.assertEqual(st, 403, "the default rubric does not publish scorecards")
        agg = {"by": ["category"], "metrics": ["count", "on_time_rate"]}
        st, got = self.same("POST", "/v1/aggregate", "aggregate", "analyst", agg, **agg)
        self.assertEqual(st, 200)
        self.assertTrue(got["rows"])
        st, _, stats = req("GET", "/v1/stats", role="analyst")
        self.assertEqual(st, 200)
        self.assertEqual(stats["protocol"], "1.3")
        self.assertIn("store", stats)

    def test_a_data_file_loads_over_http(self):
        with open(os.path.join(SOURCE_DIR, "data", "scorecard.tsv"), encoding="utf-8") as f:
            text = f.read()
        st, _, a = req("POST", "/v1/data/scorecard", {"text": text}, "admin")
        self.assertEqual((st, a), (200, {"name": "scorecard", "bytes": len(text.encode()), "log_seq": 0}))
        st, _, e = req("POST", "/v1/data/scorecard", {"text": text}, "submitter")
        self.assertEqual((st, e["error"]["code"]), (403, "forbidden"), e)
        st, _, e = req("POST", "/v1/data/calendar", {"text": "x\ty\n"}, "admin")
        self.assertEqual((st, e["error"]["code"]), (400, "bad_request"), e)

    def test_records_page_by_cursor(self):
        seen, cursor = [], None
        for _ in range(50):
            path = f"/v1/entities/{GOV}/records?limit=2" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            st, _, page = req("GET", path, role="admin")
            self.assertEqual(st, 200, page)
            seen += [r["record_id"] for r in page["records"]]
            cursor = page.get("next")
            if not cursor:
                break
        allrec = mp("records", "admin", code=GOV, limit=1000)["records"]
        self.assertEqual(seen, [r["record_id"] for r in allrec])

    def test_writes_through_http(self):
        rec = mp("records", "admin", code=GOV, limit=1)["records"][0]
        auth, rid = rec["authority_code"], rec["record_id"]
        self.assertEqual(auth, AUTH)
        base = f"/v1/records/{auth}/{urllib.parse.quote(rid, safe='')}"
        st, _, a = req("POST", base + "/objection", {"reason": "http test"}, "submitter")
        self.assertEqual(st, 200, a)
        self.assertTrue(a["objection"])
        st, _, a = req("POST", base + "/objection", {"reason": "http test", "withdraw": True}, "admin")
        self.assertEqual((st, a["objection"]), (200, False), a)
        # a submitter writes only for its own authorities
        other = mp("records", "admin", code=ENT, limit=50)["records"]
        foreign = [r for r in other if r["authority_code"] != AUTH]
        self.assertTrue(foreign)
        if foreign:
            r = foreign[0]
            fa = r["authority_code"]
            st, _, e = req("POST", f"/v1/records/{fa}/{urllib.parse.quote(r['record_id'], safe='')}/revoke",
                           {"reason": "not mine"}, "submitter")
            self.assertEqual((st, e["error"]["code"]), (403, "forbidden"), e)
        # ingest: a batch lands whole or not at all, with per-record details
        good = {"record_id": "HTTP-1", "authority_code": AUTH, "entity_code": NEW, "entity_name": "福州超文本测试有限公司",
                "category": "penalty", "decision_date": "2025-05-20", "content": "测试"}
        bad = dict(good, record_id="HTTP-2", decision_date="2025-13-01")
        st, _, e = req("POST", "/v1/ingest", {"records": [good, bad]}, "submitter")
        self.assertEqual(st, 400, e)
        self.assertEqual(e["error"]["details"][0]["index"], 1)
        st, _, a = req("POST", "/v1/ingest", {"records": [good]}, "submitter")
        self.assertEqual(st, 200, a)
        self.assertEqual(a["inserted"], 1)
        st, _, ent = req("GET", f"/v1/entities/{NEW}", role="admin")
        self.assertEqual(st, 200, ent)


class Errors(unittest.TestCase):
    def test_statuses(self):
        cases = [
            ("GET", "/v1/entities/123", None, "public", 400, "invalid_code"),
            ("GET", f"/v1/entities/{MISSING}", None, "public", 404, "not_found"),
            ("POST", "/v1/check", {"codes": [ENT], "action": "procurement"}, "public", 403, "forbidden"),
            ("POST", "/v1/check", {"codes": [ENT], "action": "buy"}, "approval", 400, "bad_request"),
            ("GET", "/v1/nothing", None, "public", 404, "unknown_op"),
            ("GET", "/v1/search?q=x&bogus=1", None, "public", 400, "bad_request"),
            ("GET", f"/v1/entities/{ENT}/records?limit=abc", None, "public", 400, "bad_request"),
            ("GET", "/v1/stats", None, "nope-not-a-token", 401, "forbidden"),
            ("POST", "/v1/ping", {}, "public", 405, "bad_request"),
            ("POST", "/v1/check", {"codes": [ENT] * 1001, "action": "procurement"}, "approval", 413, "too_large"),
        ]
        for method, path, body, role, status, code in cases:
            st, hd, e = req(method, path, body, role)
            self.assertEqual((st, e["error"]["code"]), (status, code), f"{method} {path}: {e}")
            self.assertTrue(e["error"]["message"])
            if st == 401:
                self.assertEqual(hd.get("www-authenticate"), "Bearer")

    def test_unknown_values_list_the_accepted_ones(self):
        # HTTP clients get the valid values in the error, as the CLI's user does (issue 17)
        st, _, e = req("POST", "/v1/check", {"codes": [ENT], "action": "buy"}, "approval")
        self.assertEqual(st, 400, e)
        self.assertRegex(e["error"]["message"], r'^unknown action "buy": expected one of procurement, ')
        st, _, e = req("GET", "/v1/search?q=x&bogus=1")
        self.assertEqual(st, 400, e)
        self.assertRegex(e["error"]["message"], r'^unknown query parameter "bogus" \(expected one of .*\blimit\b')
        st, _, e = req("GET", f"/v1/entities/{ENT}/records?category=fines", role="admin")
        self.assertEqual(st, 400, e)
        self.assertIn('unknown category "fines": expected one of license, penalty, ', e["error"]["message"])

    def test_bad_bodies(self):
        st, _, e = req("POST", "/v1/check", role="approval", raw=b"{not json")
        self.assertEqual((st, e["error"]["code"]), (400, "bad_request"))
        st, _, e = req("POST", "/v1/check", role="approval", raw=b"[1,2]")
        self.assertEqual(st, 400)
        st, _, e = req("POST", "/v1/check", role="approval", raw=b'{"codes":["a"],"codes":["b"],"action":"x"}')
        self.assertEqual(st, 400, "duplicate keys are refused")
        # a body past the server's max frame (1 MiB) is refused from its Content-Length, before
        # it is sent; the server keeps serving
        with socket.create_connection(("127.0.0.1", SRV.http_port), timeout=10) as s:
            s.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 3000000\r\n\r\n{")
            self.assertTrue(s.recv(200).startswith(b"HTTP/1.1 413 "))
        self.assertEqual(req("GET", "/v1/ping")[0], 200)

    def test_unknown_tokens_are_counted_and_never_logged(self):
        req("GET", "/v1/ping", role="secret-token-that-must-not-be-logged")
        time.sleep(0.1)
        self.assertNotIn("secret-token-that-must-not-be-logged", SRV.text())
        self.assertIn("unknown token from 127.0.0.1", SRV.text())


class Transport(unittest.TestCase):
    def test_keep_alive_request_ids_and_gzip(self):
        conn = http.client.HTTPConnection("127.0.0.1", SRV.http_port, timeout=10)
        ids = set()
        for i in range(20):
            st, hd, _ = req("GET", f"/v1/entities/{ENT}", conn=conn)
            self.assertEqual(st, 200)
            ids.add(hd["x-request-id"])
        self.assertEqual(len(ids), 20, "each answer has its own request id")
        st, hd, _ = req("GET", "/v1/ping", headers={"X-Request-Id": "abc-123"}, conn=conn)
        self.assertEqual(hd["x-request-id"], "abc-123")
        st, hd, doc = req("GET", "/v1/catalog", headers={"Accept-Encoding": "gzip"}, conn=conn)
        self.assertEqual((st, hd.get("content-encoding")), (200, "gzip"))
        self.assertIn("actions", doc)
        st, hd, _ = req("GET", "/v1/catalog", conn=conn)
        self.assertNotIn("content-encoding", hd)
        conn.close()

    def test_healthz_readyz(self):
        self.assertEqual(req("GET", "/healthz")[:1], (200,))
        st, _, r = req("GET", "/readyz")
        self.assertEqual((st, r), (200, {"ready": True}))

    def test_metrics_pass_promtool(self):
        req("POST", "/v1/check", {"codes": [ENT], "action": "procurement"}, "approval")
        st, hd, text = req("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hd["content-type"].startswith("text/plain"))
        self.assertIn('chengxin_requests_total{op="check"}', text)
        self.assertIn("chengxin_store_last_commit_timestamp_seconds", text)
        self.assertIn("chengxin_check_log_queued_total", text)
        self.assertIn("chengxin_check_log_last_flush_timestamp_seconds", text)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian prometheus) is installed by scripts/deps.sh")
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_openapi_examples_replay(self):
        st, _, doc = req("GET", "/v1/openapi.json")
        self.assertEqual((st, doc["openapi"]), (200, "3.1.0"))
        routes = {(m, p) for p, item in doc["paths"].items() for m in item}
        for m, p in [("get", "/v1/entities/{code}"), ("get", "/v1/entities/{code}/records"), ("post", "/v1/check"),
                     ("get", "/v1/search"), ("post", "/v1/aggregate"), ("post", "/v1/ingest"),
                     ("post", "/v1/records/{authority}/{record_id}/repair"), ("get", "/v1/catalog"),
                     ("get", "/v1/stats"), ("get", "/metrics")]:
            self.assertIn((m, p), routes)
        n = 0
        for p, item in doc["paths"].items():
            for m, op in item.items():
                for status, resp in op.get("responses", {}).items():
                    for name, ex in resp.get("content", {}).get("application/json", {}).get("examples", {}).items():
                        r = ex["x-request"]
                        st, _, got = req(r["method"], r["path"], r.get("body"), r["role"])
                        strip = lambda v: ({k: strip(x) for k, x in v.items() if k != "receipt"} if isinstance(v, dict)
                                           else [strip(x) for x in v] if isinstance(v, list) else v)
                        self.assertEqual((st, strip(got)), (int(status), ex["value"]), f"example {name} of {m} {p}")
                        n += 1
        self.assertGreaterEqual(n, 6)


class Tls(unittest.TestCase):
    def test_https_and_http2_by_alpn(self):
        d = tempfile.mkdtemp(dir=TMP)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        s = Server(TMP, SRV.db, SRV.tokens, ["--tls-cert", cert, "--tls-key", key])
        s.start()
        try:
            ctx = ssl.create_default_context(cafile=cert)
            conn = http.client.HTTPSConnection("127.0.0.1", s.http_port, context=ctx, timeout=10)
            conn.request("GET", "/v1/ping")
            r = conn.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["pong"]), (200, True))
            conn.close()
            ctx2 = ssl.create_default_context(cafile=cert)
            ctx2.set_alpn_protocols(["h2", "http/1.1"])
            with socket.create_connection(("127.0.0.1", s.http_port), timeout=10) as raw:
                with ctx2.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                    self.assertEqual(t.selected_alpn_protocol(), "h2")
            # the plain port refuses TLS-less HTTP? no: it is HTTPS only
            plain = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=5)
            with self.assertRaises(Exception):
                plain.request("GET", "/v1/ping")
                plain.getresponse().read()
        finally:
            self.assertEqual(s.stop(), 0, s.text())


if __name__ == "__main__":
    unittest.main()
