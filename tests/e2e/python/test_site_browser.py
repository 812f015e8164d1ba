#!/usr/bin/env python3
"""The public site in a real browser: headless Chromium (Debian `chromium`) driven by
puppeteer-core (npm, installed once into CX_NPM_SITE_DIR, never a downloaded browser) over a
real chengxind with the store of site_fixture.py. The flow and its checks are in
tests/e2e/site/browser.mjs; screenshots go to CX_SCREENSHOT_DIR (build/screenshots/,
docs/site.md lists them).

    CX_BIN_DIR=build/bin python3 tests/e2e/python/test_site_browser.py

Exit 77 (ctest's SKIP_RETURN_CODE) only when no chromium or no node can be found.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_fixture as sf  # noqa: E402

PUPPETEER = "puppeteer-core@25.16.0"


def main():
    chromium = os.environ.get("CX_CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    node, npm = shutil.which("node"), shutil.which("npm")
    if not chromium or not node or not npm:
        print(f"skipped: needs chromium (found {chromium}), node ({node}) and npm ({npm}); "
              "scripts/deps.sh installs chromium", file=sys.stderr)
        return 77
    build = os.path.dirname(os.path.abspath(sf.BIN_DIR))
    npmdir = os.environ.get("CX_NPM_SITE_DIR") or os.path.join(build, "npm-site")
    shots = os.environ.get("CX_SCREENSHOT_DIR") or os.path.join(build, "screenshots")
    if not os.path.exists(os.path.join(npmdir, "node_modules", "puppeteer-core", "package.json")):
        os.makedirs(npmdir, exist_ok=True)
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", PUPPETEER], cwd=npmdir,
                       check=True, env=env, stdout=subprocess.DEVNULL)
    os.makedirs(shots, exist_ok=True)
    srv = sf.SiteServer().start()
    try:
        env = dict(os.environ, NODE_PATH=os.path.join(npmdir, "node_modules"), CX_SITE_URL=srv.url,
                   CX_CHROMIUM=chromium, CX_SCREENSHOT_DIR=shots, CX_FIXTURE=json.dumps(sf.FIX))
        script = os.path.join(sf.SOURCE_DIR, "tests", "e2e", "site", "browser.mjs")
        r = subprocess.run([node, script], env=env, timeout=90, cwd=npmdir)
        rc = srv.stop()
        if rc != 0:
            print(f"chengxind exit status {rc}:\n{srv.text()}", file=sys.stderr)
            return 1
        return r.returncode
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
