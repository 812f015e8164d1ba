"""A real chengxind with --http and --site over a store of known records, for the site's tests.

Used by test_site.py (HTTP only) and test_site_browser.py (headless Chromium). The store is
made through the API, as a department would: ``chengxin init``, then ``POST /v1/ingest`` and
``POST /v1/records/{authority}/{record_id}/revoke`` with an admin token. Today is TODAY.

What it holds (``FIX`` names the values the tests look for):
- 福州闽江建设有限公司: 3 licences, 12 penalties (more than one page of the entity page's 10),
  a 失信被执行人 blacklist entry, a red-list entry, a record with hostile content, and three
  records the public must never see: a revoked penalty, a penalty past its display period
  (2022), a minor penalty (轻微: not published) — each with a marker string in its content.
- an enterprise whose name holds HTML (<b>, &, quotes): escaping.
- a natural person with a penalty: persons' penalties are never public.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BIN_DIR = os.environ.get("CX_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
TODAY = "2025-06-01"
ADMIN = "tok-site-admin-0123456789"

ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(head8, org8):
    """A valid USCC: positions 1-8, the organisation code (GB 11714 check digit added), check char."""
    v = [int(c) if c.isdigit() else ord(c) - 55 for c in org8]
    c9 = 11 - sum(a * w for a, w in zip(v, [3, 7, 9, 10, 5, 8, 4, 2])) % 11
    code17 = head8 + org8 + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    s = sum(ALPHA.index(c) * w for c, w in zip(code17, WEIGHTS))
    return code17 + ALPHA[(31 - s % 31) % 31]


AUTH = uscc("11350100", "MB000000")
ENT = uscc("91350100", "MA300001")
ODD = uscc("91350100", "MA300002")
PERSON = "11010519491231002X"


def id_number(first17):
    """A valid resident ID number (GB 11643: ISO 7064 MOD 11-2)."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * k for c, k in zip(first17, w)) % 11]


LISTED = id_number("35010219800101123")  # a person on a public serious-dishonesty list
HOSTILE = "<script>alert(\"x\")</script> & 'q' \"dq\" </dd>"
ODD_NAME = "福州<b>粗体</b>&amp;\"引号\"'单引'有限公司"
HIDDEN = ["隐藏标记甲-已撤销", "隐藏标记乙-超过公示期", "隐藏标记丙-轻微不公示", "隐藏标记丁-个人处罚"]
FIX = {"today": TODAY, "auth": AUTH, "ent": ENT, "ent_name": "福州闽江建设有限公司", "prefix": "福州闽江", "part": "闽江建设",
       "odd": ODD, "odd_name": ODD_NAME, "person": PERSON, "person_name": "张某某", "hostile": HOSTILE,
       "hidden": HIDDEN, "listed": LISTED, "listed_name": "李某某", "penalties": 12, "penalty_ids": [f"榕市监罚〔2025〕{i}号" for i in range(1, 13)]}

SITE_FILE = """# the operator's texts (docs/operations.md "The public site")
site_name = 福州市信用信息公示平台（测试）
operator = 福州市公共信用信息中心
phone = 0591-12345678
email = credit@example.org
address = 福州市鼓楼区测试路1号
hours = 工作日 9:00-17:00
repair_text = 测试修复说明第一段 <i>不是标签</i> & 符号
repair_text = 测试修复说明第二段
objection_text = 测试异议说明
"""


def records():
    base = {"authority_code": AUTH, "authority_name": "福州市市场监督管理局", "entity_code": ENT,
            "entity_name": FIX["ent_name"]}
    out = []
    for i in range(1, 4):
        out.append(dict(base, record_id=f"榕市监许〔2025〕{i}号", category="license",
                        decision_date=f"2025-0{i}-10", basis="《中华人民共和国行政许可法》",
                        content=f"准予建筑业企业资质许可（第{i}项）"))
    for i in range(1, 13):
        out.append(dict(base, record_id=f"榕市监罚〔2025〕{i}号", category="penalty", severity="general",
                        decision_date=f"2025-0{3 + (i - 1) // 5}-{10 + (i - 1) % 5:02d}", amount_fen=10000 * i,
                        basis="《中华人民共和国建筑法》第六十五条", content=f"罚款（第{i}号决定）"))
    out.append(dict(base, record_id="(2025)闽01执1号", category="blacklist", list_type="court_dishonest",
                    decision_date="2025-02-01", basis="《最高人民法院关于公布失信被执行人名单信息的若干规定》",
                    content="有履行能力而拒不履行生效法律文书确定义务"))
    out.append(dict(base, record_id="榕发改红〔2025〕1号", category="redlist", list_type="credit_model",
                    decision_date="2025-01-20", content="诚信示范企业"))
    out.append(dict(base, record_id="榕市监罚〔2025〕99号", category="penalty", severity="general",
                    decision_date="2025-05-25", basis=HOSTILE, content="内容含特殊字符：" + HOSTILE))
    # hidden from the public: revoked below, past the display period, minor
    out.append(dict(base, record_id="HIDDEN-REVOKED", category="penalty", severity="general",
                    decision_date="2025-04-01", content=HIDDEN[0]))
    out.append(dict(base, record_id="HIDDEN-OLD", category="penalty", severity="general",
                    decision_date="2022-01-10", content=HIDDEN[1]))
    out.append(dict(base, record_id="HIDDEN-MINOR", category="penalty", severity="minor",
                    decision_date="2025-05-01", content=HIDDEN[2]))
    out.append(dict(base, record_id="榕市监许〔2025〕50号", entity_code=ODD, entity_name=ODD_NAME,
                    category="license", decision_date="2025-03-03", content="许可"))
    out.append(dict(base, record_id="HIDDEN-PERSON", entity_code=PERSON, entity_name=FIX["person_name"],
                    entity_kind="person", category="penalty", severity="general", decision_date="2025-05-02",
                    content=HIDDEN[3]))
    out.append(dict(base, record_id="(2025)闽01执2号", entity_code=LISTED, entity_name=FIX["listed_name"],
                    entity_kind="person", category="blacklist", list_type="court_dishonest",
                    decision_date="2025-03-01", content="失信被执行人"))
    # the authority as a subject (政务诚信评价): two lawsuits, one lost; a 政务失信 record in force; a
    # revoked one the public never counts
    body = {"authority_code": AUTH, "authority_name": "福州市市场监督管理局", "entity_code": AUTH,
            "entity_name": "福州市市场监督管理局", "entity_kind": "government"}
    out.append(dict(body, record_id="(2025)闽01行初1号", category="lawsuit", subtype="lost", decision_date="2025-02-10",
                    content="行政诉讼败诉：违反法定程序"))
    out.append(dict(body, record_id="(2025)闽01行初2号", category="lawsuit", subtype="won", decision_date="2025-03-10",
                    content="行政诉讼胜诉"))
    out.append(dict(body, record_id="榕政失〔2025〕1号", category="gov_dishonesty", subtype="admin_penalty",
                    severity="general", decision_date="2025-04-10", content="拖欠中小企业账款"))
    return out


# the rubric of the site's tests: the shipped one, published (data/scorecard.tsv says no)
def published_rubric():
    with open(os.path.join(SOURCE_DIR, "data", "scorecard.tsv"), encoding="utf-8") as f:
        return f.read().replace("publish\tno", "publish\tyes")


class SiteServer:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="cx-site-")
        self.db = os.path.join(self.tmp, "db")
        self.log = os.path.join(self.tmp, "server.log")
        self.proc, self.port = None, 0

    def start(self):
        subprocess.run([os.path.join(BIN_DIR, "chengxin"), "init", "--db", self.db], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rubric = os.path.join(self.tmp, "scorecard.tsv")
        with open(rubric, "w", encoding="utf-8") as f:
            f.write(published_rubric())
        subprocess.run([os.path.join(BIN_DIR, "chengxin"), "load-scorecard", "--db", self.db, rubric], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tokens = os.path.join(self.tmp, "tokens")
        fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{ADMIN} admin site-admin\n")
        site = os.path.join(self.tmp, "site.conf")
        with open(site, "w") as f:
            f.write(SITE_FILE)
        env = dict(os.environ, CHENGXIN_TODAY=TODAY)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN_DIR, "chengxind"), "--db", self.db, "--listen", "127.0.0.1:0", "--http",
                 "127.0.0.1:0", "--tokens", tokens, "--threads", "2", "--site", site],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.port:
            with open(self.log, errors="replace") as f:
                for line in f:
                    if "chengxind: http listening on " in line:
                        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
            if self.proc.poll() is not None:
                raise RuntimeError(f"chengxind exited with {self.proc.returncode}:\n{self.text()}")
            time.sleep(0.01)
        if not self.port:
            self.stop()
            raise RuntimeError(f"chengxind did not start:\n{self.text()}")
        st, a = self.api("POST", "/v1/ingest", {"records": records()})
        if st == 200:
            q = urllib.parse.quote
            st, a = self.api("POST", f"/v1/records/{AUTH}/{q('HIDDEN-REVOKED', safe='')}/revoke",
                             {"reason": "决定已撤销"})
        if st != 200:
            self.stop()
            self.cleanup()
            raise RuntimeError(f"setting up the store: {st} {a}")
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def api(self, method, path, body=None, token=ADMIN):
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stop(self):
        rc = 0
        if self.proc:
            self.proc.terminate()
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = -9
            self.proc = None
        return rc

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()
