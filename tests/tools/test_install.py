#!/usr/bin/env python3
"""The installed chengxin, as an operator gets it (issue 16 part 3; docs/operations.md "Install").

Builds the Debian package from the build tree (`cpack -G DEB`, into a scratch directory),
unpacks it into a scratch root with `dpkg -x` (no root needed) and runs the installed
binaries: `chengxind --version`, `chengxin gen`, `chengxin import --mapping
shuanggongshi_penalty.tsv` found by name in the installed share directory, the installed
server started from the sample config (its db and ports replaced, a flag over the file),
queried by the CLI through CHENGXIN_CONNECT, stopped by SIGTERM. Checks the man pages, the
unit's directives, the package's control files, and the unit with `systemd-analyze verify`
when systemd-analyze is installed (that part alone is skipped otherwise). Without cpack's
Debian tools (dpkg-deb, dpkg-shlibdeps) the same tree comes from `cmake --install` into
the scratch root (DESTDIR, prefix /usr).

    CX_BUILD_DIR=build CX_SOURCE_DIR=. python3 tests/tools/test_install.py [-v]
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CX_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("CX_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
VERSION = os.environ.get("CX_VERSION", "")

_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(n, prefix="91", region="350100"):
    """A valid unified social credit code (GB 32100) with organisation number n."""
    org = f"{n:08d}"
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2)))
    c9 = 11 - s % 11
    c17 = prefix + region + org + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    r = (31 - sum(_USCC.index(c) * pow(3, i, 31) for i, c in enumerate(c17)) % 31) % 31
    return c17 + _USCC[r]


# The national 双公示 penalty template's 30 columns (tools/chengxin/mappings/shuanggongshi_penalty.tsv).
PEN_HEADER = (
    "行政相对人名称,行政相对人类别,行政相对人代码_1(统一社会信用代码),行政相对人代码_2(工商注册号),"
    "行政相对人代码_3(组织机构代码),行政相对人代码_4(税务登记号),行政相对人代码_5(事业单位证书号),"
    "行政相对人代码_6(社会组织登记证号),法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,"
    "证件号码,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额（万元）,"
    "没收违法所得、没收非法财物的金额（万元）,暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期,"
    "处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,备注\n")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(args, ok=True, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, **kw)
    if ok and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cx_install_")
        cls.root = os.path.join(cls.tmp, "root")
        cls.deb = None
        if all(shutil.which(t) for t in ("cpack", "dpkg-deb", "dpkg-shlibdeps")):
            pkg = os.path.join(cls.tmp, "pkg")
            run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", pkg])
            debs = glob.glob(os.path.join(pkg, "chengxin_*.deb"))
            assert len(debs) == 1, debs
            cls.deb = debs[0]
            run(["dpkg", "-x", cls.deb, cls.root])
        else:
            print("no dpkg-deb/dpkg-shlibdeps: installing with cmake --install instead of the package",
                  file=sys.stderr)
            run(["cmake", "--install", BUILD_DIR, "--prefix", "/usr"], env=dict(os.environ, DESTDIR=cls.root))
        cls.bin = os.path.join(cls.root, "usr", "bin")
        # a clean environment: no user config, no inherited server address
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("CHENGXIN_")}
        cls.env["CHENGXIN_CONFIG"] = ""
        cls.env["CHENGXIN_TODAY"] = "2025-06-01"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cx(self, *args, ok=True, env=None):
        return run([os.path.join(self.bin, "chengxin"), *args], ok=ok, env=env or self.env, cwd=self.tmp)

    def test_the_tree_holds_both_programs_and_nothing_else(self):
        self.assertEqual(sorted(os.listdir(self.bin)), ["chengxin", "chengxind"])
        for f in ("usr/share/man/man1/chengxin.1", "usr/share/man/man8/chengxind.8",
                  "usr/share/chengxin/mappings/shuanggongshi_penalty.tsv",
                  "usr/share/chengxin/mappings/shuanggongshi_license.tsv",
                  "usr/lib/systemd/system/chengxind.service", "etc/chengxin/chengxind.conf"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, f)), f)

    def test_chengxind_version_is_the_projects(self):
        p = run([os.path.join(self.bin, "chengxind"), "--version"], env=self.env)
        self.assertRegex(p.stdout, r"^chengxind \S+ \(protocol \S+, store schema \d+\)")
        if VERSION:
            self.assertIn(f"chengxind {VERSION} ", p.stdout)
        self.assertIn("chengxin ", self.cx("--version").stdout)

    def test_every_flag_of_chengxind_help_is_in_its_man_page(self):
        help_text = run([os.path.join(self.bin, "chengxind"), "--help"], env=self.env).stdout
        man = read(os.path.join(self.root, "usr/share/man/man8/chengxind.8"))
        man = man.replace("\\-", "-")
        flags = set(re.findall(r"--[a-z][a-z-]*", help_text))
        self.assertGreater(len(flags), 15)
        for f in sorted(flags):
            self.assertIn(f, man, f"{f} is in --help but not in chengxind(8)")
        for section in ("SIGNALS", "FILES", "EXIT STATUS", "SIGHUP", "SIGTERM"):
            self.assertIn(section, man)
        if shutil.which("man"):
            for page in ("usr/share/man/man1/chengxin.1", "usr/share/man/man8/chengxind.8"):
                p = run(["man", "-l", os.path.join(self.root, page)], env=dict(self.env, MANPAGER="cat", MANWIDTH="100"))
                self.assertGreater(len(p.stdout), 1000, page)

    def test_gen_then_import_with_a_mapping_found_by_name(self):
        db = os.path.join(self.tmp, "store_import")
        self.cx("gen", "--db", db, "--entities", "200", "--records", "1000", "--seed", "3", "--quiet")
        co, auth = uscc(1), uscc(3000001, prefix="11")
        csv = os.path.join(self.tmp, "penalties.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write(PEN_HEADER)
            f.write(f"福州甲科技有限公司,法人及非法人组织,{co},,,,,,,,,,,榕市监罚〔2024〕31号,虚假宣传,在网站发布虚假广告,"
                    f"《中华人民共和国广告法》第五十五条,罚款,罚款人民币2万元,2,,,2024-03-05,2024-09-05,2026-12-31,"
                    f"福州市市场监督管理局,{auth},福州市市场监督管理局,{auth},\n")
        # cwd is the scratch dir: no mapping file there, so the name must come from share/
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "shuanggongshi_penalty.tsv")))
        self.cx("import", "--db", db, "--mapping", "shuanggongshi_penalty.tsv", "--quiet", csv)
        p = self.cx("records", "--db", db, co, "--format", "jsonl")
        self.assertIn("榕市监罚〔2024〕31号", p.stdout)
        miss = self.cx("import", "--db", db, "--mapping", "no_such_mapping.tsv", csv, ok=False)
        self.assertEqual(miss.returncode, 2)
        self.assertIn("installed mapping", miss.stderr)

    def test_the_server_runs_from_the_sample_config(self):
        db = os.path.join(self.tmp, "store_serve")
        self.cx("gen", "--db", db, "--entities", "200", "--records", "1000", "--seed", "4", "--quiet")
        sample = read(os.path.join(self.root, "etc/chengxin/chengxind.conf"))
        self.assertRegex(sample, r"(?m)^db = /var/lib/chengxin/store$")
        self.assertRegex(sample, r"(?m)^listen = 127\.0\.0\.1:7411$")
        conf = os.path.join(self.tmp, "chengxind.conf")
        text = re.sub(r"(?m)^db = .*$", f"db = {db}", sample)
        text = re.sub(r"(?m)^listen = .*$", "listen = 127.0.0.1:1", text)  # the flag below wins
        text = re.sub(r"(?m)^http = .*$", "http = 127.0.0.1:0", text)
        text += "threads = 1\n"
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        logname = os.path.join(self.tmp, "server.log")
        log = open(logname, "w", encoding="utf-8")
        self.addCleanup(log.close)
        srv = subprocess.Popen([os.path.join(self.bin, "chengxind"), "--config", conf, "--listen", "127.0.0.1:0"],
                               stdout=log, stderr=subprocess.STDOUT, env=self.env)
        try:
            port = None
            deadline = time.time() + 20
            while time.time() < deadline and port is None:
                time.sleep(0.1)
                self.assertIsNone(srv.poll(), read(logname))
                m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(1 worker", read(logname))
                port = m and int(m.group(1))
            self.assertIsNotNone(port, read(logname))
            env = dict(self.env, CHENGXIN_CONNECT=f"127.0.0.1:{port}")
            p = self.cx("search", "公司", "--format", "jsonl", env=env)
            self.assertIn('"code"', p.stdout)
        finally:
            srv.send_signal(signal.SIGTERM)
            rc = srv.wait(timeout=30)
        self.assertEqual(rc, 0, read(logname))
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w", encoding="utf-8") as f:
            f.write(f"db = {db}\n# fine\nthreads = many\n")
        p = run([os.path.join(self.bin, "chengxind"), "--config", bad], ok=False, env=self.env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{bad}:3:", p.stderr)

    def test_the_cli_takes_its_defaults_from_the_environment_and_its_config(self):
        db = os.path.join(self.tmp, "store_conf")
        self.cx("init", "--db", db, "--quiet")
        env = dict(self.env, CHENGXIN_DB=db)
        self.assertIn(f'"path": "{db}"', self.cx("info", "--format", "json", env=env).stdout)
        conf = os.path.join(self.tmp, "cli.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"# the user's defaults\ndb = {db}\nformat = json\n")
        env = dict(self.env, CHENGXIN_CONFIG=conf)
        self.assertIn(f'"path": "{db}"', self.cx("info", env=env).stdout)
        self.assertIn("path  ", self.cx("info", "--format", "table", env=env).stdout)  # the flag wins
        other = os.path.join(self.tmp, "no_store_here")
        p = self.cx("info", env=dict(env, CHENGXIN_DB=other), ok=False)  # the environment over the file
        self.assertIn(other, p.stderr)
        with open(conf, "a", encoding="utf-8") as f:
            f.write("colour = yes\n")
        p = self.cx("info", env=env, ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{conf}:4:", p.stderr)
        # no server on port 1: the address and the reason; a host alone means port 7411
        p = self.cx("status", "--connect", "127.0.0.1:1", uscc(1), ok=False)
        self.assertIn("cannot connect to 127.0.0.1:1: Connection refused", p.stderr)
        p = self.cx("status", uscc(1), env=dict(self.env, CHENGXIN_CONNECT="[::1]:1"), ok=False)
        self.assertRegex(p.stderr, r"cannot connect to \[::1\]:1: \w")
        p = self.cx("status", "--connect", "127.0.0.1", uscc(1), ok=False)
        self.assertNotEqual(p.returncode, 2, p.stderr)  # not a usage error any more
        self.assertNotIn("expected HOST", p.stderr)  # (a server may listen on 7411 here)

    def test_the_unit_sandboxes_the_server(self):
        unit = read(os.path.join(self.root, "usr/lib/systemd/system/chengxind.service"))
        for line in ("User=chengxin", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "ReadWritePaths=/var/lib/chengxin", "ExecReload=/bin/kill -HUP $MAINPID",
                     "Restart=on-failure",
                     "ExecStart=/usr/bin/chengxind --config /etc/chengxin/chengxind.conf"):
            self.assertRegex(unit, rf"(?m)^{re.escape(line)}$")

    def test_systemd_analyze_verifies_the_unit(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        unit = read(os.path.join(self.root, "usr/lib/systemd/system/chengxind.service"))
        # verify checks that ExecStart exists and that the Documentation= page opens: point it
        # at the scratch root (the unit's own text is otherwise unchanged)
        d = os.path.join(self.tmp, "unit")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "chengxind.service"), "w", encoding="utf-8") as f:
            f.write(unit.replace("/usr/bin/chengxind", os.path.join(self.bin, "chengxind")))
        p = run(["systemd-analyze", "verify", os.path.join(d, "chengxind.service")], ok=False,
                env=dict(self.env, MANPATH=os.path.join(self.root, "usr/share/man")))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("chengxind.service:", p.stderr)

    def test_a_program_reads_the_store_through_the_installed_query_core(self):
        # pkg-config finds chengxin.pc in the scratch root (it is relocatable), and a program
        # built against the installed headers and libraries answers as the public role answers
        pcs = glob.glob(os.path.join(self.root, "usr", "lib", "**", "pkgconfig", "chengxin.pc"), recursive=True)
        self.assertEqual(len(pcs), 1, pcs)
        if not shutil.which("pkg-config") or not shutil.which("cc"):
            self.skipTest("no pkg-config or cc")
        env = dict(self.env, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        flags = run(["pkg-config", "--cflags", "--libs", "--static", "chengxin"], env=env).stdout.split()
        self.assertTrue(any(f.startswith("-I") and f.endswith("include/chengxin") for f in flags), flags)
        src = os.path.join(self.tmp, "reader.c")
        with open(src, "w") as f:
            f.write(r"""
#include <stdio.h>
#include <string.h>
#include <query.h>
/* reader DB CODE: the entity's name as the public sees it, or "not_found" */
int main(int argc, char **argv) {
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st;
  if (argc != 3 || cx_store_open(argv[1], &o, &st)) return 2;
  cx_query *q;
  cx_txn *t;
  if (cx_query_new(st, &q) || cx_store_txn_begin(st, &t)) return 3;
  cx_entity_status es;
  int rc = cx_query_entity(q, t, CX_ROLE_PUBLIC, cx_str_c(argv[2]), cx_day_today(), &es);
  if (rc == 0) printf("%.*s\n", (int)es.name.n, es.name.p);
  else printf("%s\n", cx_err_name(rc));
  cx_store_txn_end(t);
  cx_query_free(q);
  cx_store_close(st);
  return 0;
}
""")
        exe = os.path.join(self.tmp, "reader")
        # the libraries of an ASan build are instrumented: the program is linked the same way
        cache = os.path.join(BUILD_DIR, "CMakeCache.txt")
        asan = os.path.exists(cache) and "CMAKE_BUILD_TYPE:STRING=ASAN" in read(cache)
        san = ["-fsanitize=address,undefined"] if asan else []
        run(["cc", "-std=c11", *san, "-o", exe, src, *flags, "-lm"], env=env)
        db = os.path.join(self.tmp, "store_reader")
        self.cx("gen", "--db", db, "--entities", "200", "--records", "1000", "--seed", "5", "--quiet")
        hits = self.cx("search", "--db", db, "--role", "public", "--format", "jsonl", "有限公司").stdout.splitlines()
        self.assertTrue(hits)
        import json
        h = json.loads(hits[0])
        self.assertEqual(run([exe, db, h["code"]], env=env).stdout.strip(), h["name"])
        # an entity with nothing the public may see is not found, through the library too
        self.assertEqual(run([exe, db, uscc(7777777)], env=env).stdout.strip(), "not_found")

    def test_the_package_declares_its_libraries_and_creates_the_user(self):
        if not self.deb:
            self.skipTest("no package (cmake --install was used)")
        f = run(["dpkg-deb", "-f", self.deb, "Package", "Version", "Depends"]).stdout
        self.assertIn("Package: chengxin", f)
        if VERSION:
            self.assertIn(f"Version: {VERSION}", f)
        for lib in ("liblmdb0", "libuv1", "libjansson4", "libmsgpackc2"):
            self.assertIn(lib, f)
        ctl = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, ctl])
        post = read(os.path.join(ctl, "postinst"))
        self.assertTrue(os.access(os.path.join(ctl, "postinst"), os.X_OK))
        self.assertIn("useradd --system", post)
        self.assertIn("/var/lib/chengxin", post)
        self.assertNotRegex(post, r"systemctl (start|enable|restart)")
        run(["sh", "-n", os.path.join(ctl, "postinst")])
        self.assertIn("/etc/chengxin/chengxind.conf", read(os.path.join(ctl, "conffiles")))


if __name__ == "__main__":
    unittest.main()
