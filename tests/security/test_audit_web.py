"""wapiti against the HTTP and HTTPS services, logged in: no finding of medium or higher.

wapiti (Debian's 3.0.4) crawls the file manager and the API with HTTP Basic credentials
(its `-x` exclusion is broken on Python 3.11, so a cookie session would soon be ended by the
modules posting the logout form) from start URLs that reach the folder pages, their forms
and the JSON API, then attacks them. Only modules that stay on loopback run: ssrf and xxe
call an outside endpoint, redirect follows redirections to a public site, nikto has no
database in Debian and wapp would download one (an empty apps.json in its config folder
keeps it from trying: wapiti loads every module at start). Long suite: a few minutes per
service on two cores (each request checks the Basic credentials).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.security.site import PASSWORDS, security_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wapiti") is None, reason="apt-get install wapiti"),
]
MODULES = (
    "backup,blindsql,cookieflags,crlf,csp,csrf,exec,file,htaccess,http_headers,methods,"
    "permanentxss,shellshock,sql,xss"
)
START_PATHS = ("/files/", "/files/docs/", "/login", "/api/session", "/api/files/", "/api/stat/docs")
MEDIUM = 2
"""wapiti's levels: 0 info, 1 low, 2 medium, 3 high, 4 critical."""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with security_site(tmp_path_factory.mktemp("web-audit"), passive=(62600, 62619)) as running:
        home = running.home("alice")
        (home / "docs").mkdir(parents=True, exist_ok=True)
        (home / "docs" / "note.txt").write_text("hello\n")
        (home / "report.csv").write_text("a,b\n1,2\n")
        yield running


def wapiti(base: str, work: Path) -> dict:
    """Scan `base` (http[s]://127.0.0.1:port) logged in as alice; wapiti's JSON report."""
    (work / "config").mkdir()
    (work / "config" / "apps.json").write_text("{}")  # no download of the Wappalyzer data
    starts = [argument for path in START_PATHS for argument in ("-s", base + path)]
    result = subprocess.run(
        ["wapiti", "-u", base + "/", *starts, "--scope", "folder", "-m", MODULES,
         "-a", f"alice%{PASSWORDS['alice']}", "--auth-type", "basic",
         "--endpoint", "http://127.0.0.1:9/", "--no-bugreport", "--flush-session",
         "--store-session", str(work / "session"), "--store-config", str(work / "config"),
         "--max-scan-time", "300", "--max-attack-time", "45", "-t", "20",
         "-f", "json", "-o", str(work / "report.json")],
        capture_output=True, text=True, timeout=900, cwd=work,
    )  # fmt: skip
    report = work / "report.json"
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    assert "Downloading from the web" not in result.stdout, result.stdout[-3000:]
    return json.loads(report.read_text())


def findings(report: dict, minimum: int) -> list[str]:
    """Every vulnerability or anomaly of at least `minimum` level."""
    return [
        f"{int(item['level'])} {category}: {item['method']} {item['path']} "
        f"{item.get('parameter') or ''} {item.get('info', '')[:120]}"
        for section in ("vulnerabilities", "anomalies")
        for category, items in report.get(section, {}).items()
        for item in items
        if int(item["level"]) >= minimum
    ]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("service", ["web", "webs"])
def test_wapiti_finds_nothing_medium(app, tmp_path, service):
    scheme = "https" if service == "webs" else "http"
    report = wapiti(f"{scheme}://127.0.0.1:{app.port(service)}", tmp_path)
    print(service, "low findings:", findings(report, 1))
    assert findings(report, MEDIUM) == []
    assert app.process.poll() is None
    assert "Traceback" not in (app.root / "serve.log").read_text()
