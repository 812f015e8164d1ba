#!/usr/bin/env python3
"""`chengxin export --sql` into DuckDB and Parquet (issue 19 point 5; docs/scaling.md "Analysts
past one machine").

Generates a store from a seed, changes a few records' lifecycle (events in the export), exports
it with the DuckDB script, runs the script in DuckDB (npm @duckdb/node-api, the version
bench/duckdb/package.json pins, installed once into CX_NPM_DUCKDB_DIR) through
tests/tools/export_duckdb.mjs, and checks:
  - counts, amounts, in-force and on-time counts by category x province, and counts and amounts
    by city, equal `chengxin agg` over the same store;
  - every record's codes, Chinese text, dates (valid_until "open" as NULL) and amount (fen and
    DECIMAL yuan) equal its export line; the columns have the documented types, and every key
    of a record line has a column;
  - the Parquet file round-trips: the same rows (EXCEPT ALL both ways empty), the same types;
  - the example queries of the recipe run.
The work directory's name holds a quote, so the script's string literals are escaped for real.

    CX_BIN_DIR=build/bin CX_SOURCE_DIR=. python3 tests/tools/test_export_duckdb.py [-v]

Exit status 77 (ctest's SKIP_RETURN_CODE) when node or npm is missing or the package cannot be
installed (no registry).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BIN_DIR = os.environ.get("CX_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
CX = os.path.join(BIN_DIR, "chengxin")
NPM_DIR = os.environ.get("CX_NPM_DUCKDB_DIR") or os.path.join(BIN_DIR, "..", "npm-duckdb")
AS_OF = "2024-06-30"
SEED, ENTITIES, RECORDS = 19, 3000, 20000


def skip(why):
    print(f"skipped: {why}", file=sys.stderr)
    sys.exit(77)


def duckdb_node():
    """node, with @duckdb/node-api installed into NPM_DIR (once); skips when it cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        skip(f"needs node ({node}) and npm ({npm}) for @duckdb/node-api; scripts/deps.sh installs them")
    if not os.path.exists(os.path.join(NPM_DIR, "node_modules", "@duckdb", "node-api", "package.json")):
        os.makedirs(NPM_DIR, exist_ok=True)
        shutil.copy(os.path.join(SOURCE_DIR, "bench", "duckdb", "package.json"), NPM_DIR)
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NPM_DIR,
                           capture_output=True, text=True, timeout=240)
        if r.returncode != 0:
            skip(f"npm could not install @duckdb/node-api into {NPM_DIR} (no registry?): {r.stderr.strip()[-300:]}")
    return node


def cx(*args):
    return subprocess.run([CX, *args], check=True, capture_output=True, text=True,
                          env=dict(os.environ, CHENGXIN_TODAY="2025-03-01")).stdout


class ExportDuckdb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = duckdb_node()
        cls.tmp = tempfile.mkdtemp(prefix="cx-duck'db-")
        cls.db = os.path.join(cls.tmp, "store")
        cx("gen", "--db", cls.db, "--entities", str(ENTITIES), "--records", str(RECORDS), "--seed", str(SEED), "--quiet")
        # a few lifecycle changes, so that statuses and event lines are in the export
        first = os.path.join(cls.tmp, "first.jsonl")
        cx("export", "--db", cls.db, "--out", first, "--quiet")
        with open(first, encoding="utf-8") as f:
            active = [r for r in map(json.loads, f) if r["type"] == "record" and r["status"] == "active"]
        cls.changed = []
        for i, op in enumerate(["repair", "repair", "revoke"]):
            r = active[i * 7]
            cx(op, "--db", cls.db, "--authority", r["authority_code"], "--record-id", r["record_id"],
               "--reason", "测试：信用修复'完成\"", *(["--override"] if op == "repair" else []), "--format", "json")
            cls.changed.append((op, r["authority_code"], r["record_id"]))
        cls.export = os.path.join(cls.tmp, "store.jsonl")
        cls.sql = os.path.join(cls.tmp, "store.sql")
        cx("export", "--db", cls.db, "--out", cls.export, "--sql", cls.sql, "--quiet")
        out = os.path.join(cls.tmp, "duckdb.json")
        # an ES module finds its packages from where it lies (NODE_PATH is not read): run a copy
        # beside NPM_DIR's node_modules
        script = os.path.join(NPM_DIR, "export_duckdb.mjs")
        shutil.copy(os.path.join(HERE, "export_duckdb.mjs"), script)
        subprocess.run([cls.node, script, cls.sql, cls.tmp, AS_OF, out], check=True, timeout=300, cwd=NPM_DIR)
        with open(out, encoding="utf-8") as f:
            cls.duck = json.load(f)
        with open(cls.export, encoding="utf-8") as f:
            cls.lines = [json.loads(l) for l in f]

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "tmp", None) and not os.environ.get("CX_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def agg(self, by, metrics):
        return json.loads(cx("agg", "--db", self.db, "--by", by, "--metrics", metrics, "--as-of", AS_OF,
                             "--format", "json"))

    def test_counts_amounts_in_force_by_category_and_province_equal_agg(self):
        mine = {(r["category"], r["province_code"]): (r["count"], r["amount"], r["in_force"], r["on_time"])
                for r in self.agg("category,province", "count,amount,in_force,on_time")}
        duck = {(r["category"], r["province_code"]): (int(r["count"]), int(r["amount"]), int(r["in_force"]),
                                                     int(r["on_time"])) for r in self.duck["by_category_province"]}
        self.assertGreater(len(mine), 50)
        self.assertEqual(sum(v[0] for v in mine.values()), RECORDS)
        self.assertGreater(sum(v[2] for v in mine.values()), 0, "some records in force on the day")
        self.assertEqual(duck, mine)

    def test_counts_and_amounts_by_city_equal_agg(self):
        mine = {r["city_code"]: (r["count"], r["amount"]) for r in self.agg("city", "count,amount")}
        duck = {r["city_code"]: (int(r["count"]), int(r["amount"])) for r in self.duck["by_city"]}
        self.assertGreater(len(mine), 100)
        self.assertEqual(duck, mine)
        for r in self.duck["by_city"]:  # DECIMAL yuan: exactly fen / 100
            self.assertEqual(r["amount_yuan"], f"{int(r['amount']) // 100}.{int(r['amount']) % 100:02d}")

    def test_every_record_keeps_its_text_dates_and_amount(self):
        recs = sorted((l for l in self.lines if l["type"] == "record"), key=lambda r: (r["authority_code"], r["record_id"]))
        duck = self.duck["records"]
        self.assertEqual(len(duck), len(recs))
        self.assertEqual(len(recs), RECORDS)
        opens = 0
        for j, d in zip(recs, duck):
            for k in ("authority_code", "record_id", "authority_name", "entity_code", "entity_name", "content",
                      "basis", "measures", "category", "status", "decision_date", "report_date", "valid_from"):
                self.assertEqual(d[k], j[k], (k, j["record_id"]))
            if j["valid_until"] == "open":
                opens += 1
                self.assertIsNone(d["valid_until"])
            else:
                self.assertEqual(d["valid_until"], j["valid_until"])
            self.assertEqual(int(d["amount_fen"]), j["amount_fen"])
            self.assertEqual(d["amount_yuan"], f"{j['amount_fen'] // 100}.{j['amount_fen'] % 100:02d}")
            self.assertEqual(d["region"], f"{j['region']:06d}")
        self.assertGreater(opens, 0, "the generator writes open ends")
        self.assertTrue(any(any("\u4e00" <= c <= "\u9fff" for c in d["entity_name"]) for d in duck))

    def test_columns_have_the_documented_types_and_every_record_key_a_column(self):
        cols = self.duck["columns"]["records"]
        rec = next(l for l in self.lines if l["type"] == "record")
        self.assertEqual(sorted(set(rec) - {"type"} - set(cols)), [], "record keys without a column (export_sql.c)")
        for k in ("decision_date", "report_date", "valid_from", "valid_until", "display_until"):
            self.assertEqual(cols[k], "DATE", k)
        for k in ("authority_code", "entity_code", "category", "status", "region", "province_code", "city_code",
                  "entity_name", "content"):
            self.assertEqual(cols[k], "VARCHAR", k)
        self.assertEqual(cols["amount_fen"], "BIGINT")
        self.assertEqual(cols["amount_yuan"], "DECIMAL(20,2)")
        self.assertEqual(cols["on_time"], "BOOLEAN")
        self.assertEqual(self.duck["columns"]["events"]["time_utc"], "TIMESTAMP")

    def test_tables_hold_what_the_trailer_counts(self):
        n = self.lines[-1]["counts"]
        c = self.duck["counts"]
        self.assertEqual((c["records"], c["entities"], c["authorities"], c["events"], c["audit"]),
                         (n["record"], n["entity"], n["authority"], n["event"], n["audit"]))
        self.assertGreater(c["regions"], 3000)

    def test_events_name_the_changed_records(self):
        ev = [(e["op"], e["authority_code"], e["record_id"]) for e in self.duck["events"]]
        self.assertEqual(ev, self.changed)
        self.assertTrue(all(e["who"].startswith("local:") for e in self.duck["events"]))

    def test_parquet_round_trips(self):
        p = self.duck["parquet"]
        self.assertEqual(p["rows"], RECORDS)
        self.assertEqual((p["missing"], p["extra"]), (0, 0))
        self.assertEqual(p["columns"], self.duck["columns"]["records"])
        self.assertTrue(os.path.getsize(os.path.join(self.tmp, "records.parquet")) > 0)

    def test_sql_without_an_export_file_is_a_usage_error(self):
        sql = os.path.join(self.tmp, "stdout.sql")
        r = subprocess.run([CX, "export", "--db", self.db, "--sql", sql], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--sql needs --out FILE", r.stderr)
        self.assertFalse(os.path.exists(sql))

    def test_the_recipes_example_queries_answer(self):
        ex = self.duck["examples"]
        self.assertEqual(len(ex), 3)
        self.assertTrue(all(len(rows) > 0 for rows in ex), ex)
        self.assertTrue(all(r["province"] for r in ex[0]))  # names from the regions table


if __name__ == "__main__":
    unittest.main()
