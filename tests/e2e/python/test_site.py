#!/usr/bin/env python3
"""End-to-end, without a browser: the public site's pages (net/site.c, docs/site.md) over HTTP.

A real chengxind with --http and --site over the store of site_fixture.py. Every page's status,
Content-Type and Cache-Control; HTML escaping of hostile names, contents and operator texts;
paging; the report and its PDF (pdftotext when poppler-utils is there); and that no page shows
a record the public may not see (revoked, past its display period, minor, a person's penalty),
nor tells a hidden entity from an unknown code.

    CX_BIN_DIR=build/bin python3 tests/e2e/python/test_site.py [-v]
"""

import html
import json
import http.client
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_fixture as sf  # noqa: E402

FIX = sf.FIX
SRV = None
MISSING = "91350100123456788Q"  # valid, never ingested


def setUpModule():
    global SRV
    SRV = sf.SiteServer().start()


def tearDownModule():
    try:
        if SRV:
            rc = SRV.stop()
            if rc != 0:
                raise AssertionError(f"chengxind exit status {rc}:\n{SRV.text()}")
    finally:
        if SRV:
            SRV.cleanup()


def get(path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", SRV.port, timeout=20)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hd, body


def page(path):
    st, hd, body = get(path)
    return st, hd, body.decode()


def q(s):
    return urllib.parse.quote(s, safe="")


def links(text, prefix):
    return [html.unescape(m) for m in re.findall(r'href="(' + re.escape(prefix) + r'[^"]*)"', text)]


def all_entity_pages(code):
    """Every tab and every page of every tab of the entity page, following its own links."""
    seen, todo, out = set(), [f"/entity/{code}"], []
    while todo:
        p = todo.pop()
        p = p.split("#")[0]
        if p in seen:
            continue
        seen.add(p)
        st, _, t = page(p)
        assert st == 200, (p, st)
        out.append((p, t))
        # its own links: by its code, or by the token that names a person (never its number)
        todo += [u for u in links(t, "/entity/") if "?" in u and
                 (u.startswith(f"/entity/{code}?") or u.startswith("/entity/~"))]
        assert len(seen) < 200
    return out


class Statuses(unittest.TestCase):
    def test_every_page_answers_with_its_status(self):
        css = re.search(r'href="(/assets/site-[0-9a-f]{16}\.css)"', page("/")[2]).group(1)
        cases = [
            ("/", 200, "text/html"), ("/index.html", 200, "text/html"),
            ("/search", 200, "text/html"), ("/search?q=" + q(FIX["prefix"]), 200, "text/html"),
            ("/search?q=" + q("不存在的名称"), 200, "text/html"),
            (f"/entity/{FIX['ent']}", 200, "text/html"), (f"/entity/{FIX['ent'].lower()}", 200, "text/html"),
            (f"/entity/{FIX['ent']}?tab=penalty", 200, "text/html"),
            (f"/entity/{FIX['ent']}?tab=bogus", 400, "text/html"),
            (f"/entity/{FIX['ent']}?tab=penalty&cursor=AAAA", 400, "text/html"),
            ("/entity/123", 400, "text/html"), (f"/entity/{MISSING}", 404, "text/html"),
            (f"/entity/{FIX['person']}", 404, "text/html"),
            (f"/report/{FIX['ent']}", 200, "text/html"), (f"/report/{FIX['ent']}.pdf", 200, "application/pdf"),
            (f"/report/{MISSING}", 404, "text/html"), (f"/report/{MISSING}.pdf", 404, "text/html"),
            ("/report/123.pdf", 400, "text/html"),
            ("/repair", 200, "text/html"), ("/objection", 200, "text/html"),
            ("/nothing/here", 404, "text/html"), ("/entity/", 404, "text/html"),
            (css, 200, "text/css"), ("/assets/site-0000000000000000.css", 404, "text/html"),
            ("/search?q=%ZZ", 400, "text/html"),
        ]
        for path, status, ctype in cases:
            st, hd, body = get(path)
            self.assertEqual(st, status, path)
            self.assertTrue(hd["content-type"].startswith(ctype), (path, hd["content-type"]))
            self.assertEqual(hd.get("x-content-type-options"), "nosniff", path)
            self.assertIn("default-src 'none'", hd.get("content-security-policy", ""), path)
            if ctype == "text/html":
                t = body.decode()
                self.assertTrue(t.startswith("<!doctype html>"), path)
                self.assertIn('lang="zh-CN"', t)
                if status != 200:
                    self.assertIn(f"状态码 {status}", t, path)
                    self.assertEqual(hd["cache-control"], "no-store", path)
        # the API keeps its JSON answers
        st, hd, _ = get("/v1/nothing")
        self.assertEqual((st, hd["content-type"]), (404, "application/json"))

    def test_caching_headers(self):
        css = re.search(r'href="(/assets/site-[0-9a-f]{16}\.css)"', page("/")[2]).group(1)
        self.assertIn("immutable", get(css)[1]["cache-control"])
        self.assertIn("max-age=31536000", get(css)[1]["cache-control"])
        self.assertEqual(get(f"/entity/{FIX['ent']}")[1]["cache-control"], "no-cache")
        self.assertEqual(get("/search?q=" + q(FIX["prefix"]))[1]["cache-control"], "no-cache")
        self.assertEqual(get(f"/report/{FIX['ent']}.pdf")[1]["cache-control"], "no-cache")
        self.assertIn("max-age=300", get("/repair")[1]["cache-control"])

    def test_a_hidden_entity_is_the_same_404_as_an_unknown_code(self):
        a, b = page(f"/entity/{FIX['person']}"), page(f"/entity/{MISSING}")
        self.assertEqual((a[0], a[2]), (b[0], b[2]))
        a, b = page(f"/report/{FIX['person']}"), page(f"/report/{MISSING}")
        self.assertEqual((a[0], a[2]), (b[0], b[2]))
        a, b = page(f"/entity/{FIX['person']}?tab=penalty&cursor=AAAA"), page(f"/entity/{MISSING}?tab=penalty&cursor=AAAA")
        self.assertEqual((a[0], a[2]), (b[0], b[2]))


class Escaping(unittest.TestCase):
    def test_hostile_names_and_contents_are_escaped_everywhere(self):
        odd = FIX["odd_name"]
        pages = [page("/search?q=" + q("福州"))[2], page(f"/entity/{FIX['odd']}")[2],
                 page(f"/report/{FIX['odd']}")[2]]
        for t in pages:
            self.assertIn(html.escape(odd, quote=True).replace("&#x27;", "&#39;"), t)
            self.assertNotIn("<b>粗体", t)
        ents = [t for _, t in all_entity_pages(FIX["ent"])] + [page(f"/report/{FIX['ent']}")[2]]
        shown = 0
        for t in ents:
            self.assertNotIn("<script", t)
            self.assertNotIn("</dd>\"", t)
            shown += t.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;")
        self.assertGreaterEqual(shown, 2)  # the penalty tab and the report, basis and content

    def test_the_operators_texts_are_escaped(self):
        st, _, t = page("/repair")
        self.assertEqual(st, 200)
        self.assertIn("测试修复说明第一段 &lt;i&gt;不是标签&lt;/i&gt; &amp; 符号", t)
        self.assertIn("<p>测试修复说明第二段</p>", t)
        self.assertIn("0591-12345678", t)
        self.assertIn("福州市公共信用信息中心", t)
        self.assertIn("福州市信用信息公示平台（测试）", t)
        self.assertIn("测试异议说明", page("/objection")[2])


class Content(unittest.TestCase):
    def test_search_by_any_part_of_the_name_finds_the_entity(self):
        for part in (FIX["prefix"], FIX["part"]):  # the start, and a middle part (keyword index)
            st, _, t = page("/search?q=" + q(part))
            self.assertEqual(st, 200)
            self.assertIn(f'href="/entity/{FIX["ent"]}"', t, part)
        st, _, t = page("/search?q=" + q(FIX["part"]))
        self.assertIn(FIX["ent_name"], t)
        self.assertIn(f'href="/entity/{FIX["ent"]}"', t)
        self.assertIn("企业", t)
        self.assertNotIn(FIX["person_name"], page("/search?q=" + q("张"))[2])
        st, _, t = page("/search?q=" + FIX["ent"])
        self.assertIn(FIX["ent_name"], t)

    def test_the_entity_page_shows_status_and_registration_fields(self):
        st, _, t = page(f"/entity/{FIX['ent']}")
        self.assertEqual(st, 200)
        for s in ("基本信息", "统一社会信用代码", FIX["ent"], "福建省", "登记管理部门", "组织机构代码",
                  "严重失信主体名单", "守信激励（红名单）", "失信惩戒措施"):
            self.assertIn(s, t)
        for name in ("行政许可", "行政处罚", "政务失信", "严重失信主体名单", "守信激励", "信用承诺", "行政诉讼",
                     "投诉举报", "信用评价", "经营异常名录", "行政强制", "行政确认", "行政检查"):
            self.assertIn(f">{name} <span", t)
        st, _, t = page(f"/entity/{FIX['ent']}?tab=blacklist")
        self.assertIn("(2025)闽01执1号", t)
        self.assertIn("失信被执行人", t)  # the list type's name from the catalog answer

    def test_records_page_by_cursor(self):
        st, _, t = page(f"/entity/{FIX['ent']}?tab=penalty")
        ids = re.findall(r"决定书文号：([^<]+)</h3>", t)
        self.assertEqual(len(ids), 10)
        nxt = [u for u in links(t, f"/entity/{FIX['ent']}?") if "cursor=" in u]
        self.assertEqual(len(nxt), 1)
        st, _, t2 = page(nxt[0].split("#")[0])
        self.assertEqual(st, 200)
        ids += re.findall(r"决定书文号：([^<]+)</h3>", t2)
        self.assertIn("第一页", t2)
        self.assertEqual(set(html.unescape(i) for i in ids), set(FIX["penalty_ids"]) | {"榕市监罚〔2025〕99号"})

    def test_the_report_has_a_stable_number_and_its_pdf_the_name(self):
        st, _, t = page(f"/report/{FIX['ent']}")
        self.assertEqual(st, 200)
        num = re.search(r"CX-20250601-[0-9A-F]{16}", t).group(0)
        self.assertEqual(re.search(r"CX-20250601-[0-9A-F]{16}", page(f"/report/{FIX['ent']}")[2]).group(0), num)
        self.assertNotEqual(re.search(r"CX-\d{8}-[0-9A-F]{16}", page(f"/report/{FIX['odd']}")[2]).group(0), num)
        self.assertIn("信息截至", t)
        self.assertIn("@media print", get(re.search(r'href="(/assets/[^"]+)"', t).group(1))[2].decode())
        st, hd, pdf = get(f"/report/{FIX['ent']}.pdf")
        self.assertEqual(st, 200)
        self.assertTrue(pdf.startswith(b"%PDF-"))
        self.assertEqual(int(hd["content-length"]), len(pdf))
        text = pdf_text(pdf)
        if text is not None:
            self.assertIn(FIX["ent_name"], text)
            self.assertIn(num, text)
            self.assertIn("榕市监罚〔2025〕12号", text)

    def test_pdfs_are_drawn_off_the_loop_many_at_once(self):
        # the PDF is drawn on the thread pool (pango and cairo in several threads at once): eight
        # at the same time all arrive whole, and the API answers meanwhile
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            futs = [ex.submit(get, f"/report/{FIX['ent']}.pdf") for _ in range(8)]
            self.assertEqual(get("/v1/ping")[0], 200)
            for f in futs:
                st, hd, pdf = f.result()
                self.assertEqual((st, hd["content-type"]), (200, "application/pdf"))
                self.assertTrue(pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"))
                self.assertNotIn("content-encoding", hd, "a PDF is not gzipped")


def pdf_text(pdf):
    if not shutil.which("pdftotext"):
        print("pdftotext not found (poppler-utils): the PDF's header only is checked", file=sys.stderr)
        return None
    r = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return r.stdout.decode()


class TrustBoundary(unittest.TestCase):
    def test_a_listed_person_is_shown_masked_and_its_links_work(self):
        code = FIX["listed"]
        st, _, t = page(f"/entity/{code}")
        self.assertEqual(st, 200)
        self.assertIn(code[:6] + "********" + code[14:], t)  # the answer's masked number
        self.assertIn("严重失信主体名单", t)
        self.assertNotIn("登记管理部门", t)  # no USCC fields for a person
        # the full number is in no page, not even in its links (they carry a token)
        self.assertNotIn(code, t)
        toks = set(re.findall(r'href="/(?:entity|report)/(~[0-9a-f]{52})', t))
        self.assertEqual(len(toks), 1, "one token names the person in every link")
        for p, tt in all_entity_pages(code):  # every tab link answers 200 (asserted inside)
            self.assertNotIn(code, tt, p)
        tok = toks.pop()
        st, _, r = page(f"/report/{tok}")
        self.assertEqual(st, 200)
        self.assertIn("(2025)闽01执2号", r)
        self.assertNotIn(code, r)
        self.assertEqual(page(f"/report/{code}")[2].count(code), 0)
        st, hd, pdf = get(f"/report/{tok}.pdf")
        self.assertEqual((st, hd["content-type"]), (200, "application/pdf"))
        # a token of another process, or altered, is a 404 like an unknown code
        bad = tok[:-1] + ("0" if tok[-1] != "0" else "1")
        self.assertEqual(page(f"/entity/{bad}")[0], 404)
        self.assertEqual(page(f"/entity/{bad}")[2], page(f"/entity/{MISSING}")[2])


    def test_scorecards_when_the_rubric_publishes_them(self):
        st, _, body = page("/scorecards?region=3501&year=2025")
        self.assertEqual(st, 200, body)
        self.assertIn("福州市政务诚信评价", body)
        self.assertIn(f"/scorecards/{FIX['auth']}?year=2025", body)
        st, _, card = page(f"/scorecards/{FIX['auth']}?year=2025")
        self.assertEqual(st, 200, card)
        for want in ("行政诉讼败诉率", "50.0%（1/2）", "政务失信记录（生效中）", "等级"):
            self.assertIn(want, card)
        # the public's scorecard leaves out the internal indicators
        self.assertNotIn("双公示按时报送率", card)
        self.assertNotIn("公务员失信记录", card)
        # the same numbers as the API's answer for the public
        st, _, raw = get(f"/v1/scorecards/{FIX['auth']}?year=2025")
        self.assertEqual(st, 200, raw)
        api = json.loads(raw)
        self.assertIn(f"{api['score']:.1f}", card)
        # a province is not ranked on a page (the API's thread pool does that)
        self.assertEqual(page("/scorecards?region=35")[0], 400)

    def test_hidden_records_never_appear_on_any_page(self):
        pages = [(p, t) for p, t in all_entity_pages(FIX["ent"])]
        for p in ("/", "/search?q=" + q("福州"), "/search?q=" + q(FIX["prefix"]), "/search?q=" + q("张某"),
                  "/scorecards?region=3501&year=2025", f"/scorecards/{FIX['auth']}?year=2025",
                  f"/report/{FIX['ent']}", f"/entity/{FIX['person']}", f"/report/{FIX['person']}"):
            pages.append((p, page(p)[2]))
        text = pdf_text(get(f"/report/{FIX['ent']}.pdf")[2])
        if text is not None:
            pages.append(("pdf", text))
        self.assertGreater(len(pages), 15)
        for p, t in pages:
            for marker in FIX["hidden"] + ["HIDDEN-", FIX["person_name"]]:
                self.assertNotIn(marker, t, p)
        # ... while the admin's API sees them: the store holds them
        st, a = SRV.api("GET", f"/v1/entities/{FIX['ent']}/records?category=penalty&limit=100")
        self.assertEqual(st, 200)
        self.assertTrue({"HIDDEN-REVOKED", "HIDDEN-OLD", "HIDDEN-MINOR"} <= {r["record_id"] for r in a["records"]})


if __name__ == "__main__":
    unittest.main()
