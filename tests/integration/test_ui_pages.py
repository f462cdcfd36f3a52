# SPDX-License-Identifier: Apache-2.0
"""The web UI's pages in a real browser: lanner with the UI on, then tests/e2e/ui_e2e.mjs drives
Debian's headless chromium with playwright-core (from npm, pinned by tests/e2e/package-lock.json,
installed here with `npm ci` into <build>/e2e; never a downloaded browser). Screenshots go to
<build>/e2e/screenshots. Also the static file serving under /ui/ (content types, caching,
404, no traversal) with plain HTTP."""
import filecmp
import os
import re
import shutil
import subprocess
import unittest

from lanner_harness import LANNER, Workspace

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_SRC = os.path.normpath(os.path.join(HERE, "..", "e2e"))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(LANNER)))  # <build>/gateway/lanner
E2E = os.path.join(BUILD, "e2e")
CHROMIUM = os.environ.get("LANNER_CHROMIUM", "/usr/bin/chromium")
CI = os.environ.get("CI") == "true"
USER, PASSWORD, TOKEN = "admin", "pages test password", "pages-test-token"


def missing_tools():
    return [t for t, ok in (("chromium (%s)" % CHROMIUM, os.access(CHROMIUM, os.X_OK)),
                            ("node", shutil.which("node")), ("npm", shutil.which("npm")))
            if not ok]


def setup_e2e():
    """Copies tests/e2e into <build>/e2e and installs its lock file (again only when it changed)."""
    os.makedirs(E2E, exist_ok=True)
    for f in ("package.json", "package-lock.json", "ui_e2e.mjs"):
        shutil.copy(os.path.join(E2E_SRC, f), os.path.join(E2E, f))
    installed = os.path.join(E2E, "node_modules", ".installed-lock.json")
    if os.path.exists(installed) and filecmp.cmp(installed, os.path.join(E2E, "package-lock.json"),
                                                 shallow=False):
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=E2E,
                   check=True, timeout=600)
    shutil.copy(os.path.join(E2E, "package-lock.json"), installed)


class UiPages(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.lan = self.ws.lanner(
            "ui:\n  enabled: true\n  username: %s\n  password: '%s'\n  token: %s\n"
            "  store:\n    path: '%s'\n" % (USER, PASSWORD, TOKEN,
                                          os.path.join(self.ws.tmp.name, "events.db")))

    def test_browser(self):
        missing = missing_tools()
        if missing:
            if CI:
                self.fail("CI=true and missing: %s (run scripts/deps.sh)" % ", ".join(missing))
            self.skipTest("missing: %s (run scripts/deps.sh)" % ", ".join(missing))
        setup_e2e()
        env = dict(os.environ, LANNER_URL="http://127.0.0.1:%d" % self.lan.port,
                   LANNER_USER=USER, LANNER_PASSWORD=PASSWORD, LANNER_TOKEN=TOKEN,
                   CHROMIUM=CHROMIUM, SHOTS=os.path.join(E2E, "screenshots"))
        p = subprocess.run(["node", os.path.join(E2E, "ui_e2e.mjs")], cwd=E2E, env=env,
                           capture_output=True, text=True, timeout=400)
        print(p.stdout, end="")
        self.assertEqual(p.returncode, 0, "browser scenarios failed:\n%s%s\nlanner:\n%s"
                         % (p.stdout, p.stderr, self.lan.output()[-4000:]))
        for shot in ("dashboard.png", "events.png"):
            self.assertGreater(os.path.getsize(os.path.join(E2E, "screenshots", shot)), 10000)

    def test_static_files(self):
        status, body, h = self.lan.request("GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn("default-src 'self'", h["content-security-policy"])
        html = body.decode()
        # Everything the page loads is ours and relative: no CDN, no outside font.
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        self.assertTrue(refs)
        for ref in refs:
            self.assertNotRegex(ref, r"^(https?:)?//", ref)
        for ref in refs:
            if ref.startswith("data:") or ref.startswith("#"):
                continue
            path = "/ui/" + ref.removeprefix("./")
            status, data, hh = self.lan.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertRegex(hh["content-type"], r"^text/(css|javascript); charset=utf-8$", path)
            self.assertNotRegex(data.decode(), r"https?://(?!www\.w3\.org/)", path)
            if "/assets/" in path:
                self.assertIn("immutable", hh["cache-control"])
        # Revalidation, index, redirect, unknown, traversal, methods, no credentials needed.
        self.assertEqual(self.lan.request("GET", "/ui/", headers={
            "If-None-Match": h["etag"]})[0], 304)
        self.assertEqual(self.lan.request("GET", "/ui/index.html")[1], body)
        status, _, hh = self.lan.request("GET", "/ui")
        self.assertEqual((status, hh.get("location")), (301, "/ui/"))
        # h2o resolves dot segments first ("/ui/a/../x" is "/ui/x"); names are then exact.
        for path in ("/ui/nope.js", "/ui/../README.md", "/ui/../../../etc/passwd",
                     "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/..%2f..%2fetc%2fpasswd",
                     "/ui//index.html", "/ui/index.html/", "/ui/assets/"):
            self.assertEqual(self.lan.request("GET", path)[0], 404, path)
        self.assertEqual(self.lan.request("POST", "/ui/", body=b"x")[0], 405)
        self.assertEqual(self.lan.request("HEAD", "/ui/")[0], 200)
        # The API still wants credentials.
        self.assertEqual(self.lan.request("GET", "/api/v1/events")[0], 401)

    def test_pages_public_under_gateway_token(self):
        # The gateway's own bearer token guards POST / and friends, not the pages (no data in
        # them) and not /api/v1/ (the UI's credentials do).
        lan = self.ws.lanner(
            "http: {bearer_token: gw-token}\nui:\n  enabled: true\n  token: %s\n"
            "  store:\n    path: '%s'\n" % (TOKEN, os.path.join(self.ws.tmp.name, "gw.db")))
        self.assertEqual(lan.request("GET", "/ui/")[0], 200)
        self.assertEqual(lan.request("GET", "/ui")[0], 301)
        self.assertEqual(lan.request("GET", "/api/v1/events", headers={
            "Authorization": "Bearer " + TOKEN})[0], 200)
        self.assertEqual(lan.request("GET", "/metrics")[0], 401)

    def test_off_by_default(self):
        lan = self.ws.lanner()
        self.assertEqual(lan.request("GET", "/ui/")[0], 404)


if __name__ == "__main__":
    unittest.main()
