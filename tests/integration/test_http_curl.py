"""The HTTP service with curl: Basic auth, upload, download with Range, HEAD, headers, CSRF
(the Origin/Referer check and the HTML forms' token)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.http_support import PORTAL, base_url, http_appliance

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with http_appliance(tmp_path_factory.mktemp("http")) as running:
        yield running


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl -i; returns the last status, its headers (lower-case names) and the body."""
    done = subprocess.run(
        ["curl", "-sk", "-i", "--max-time", "30", *args], capture_output=True, check=True
    )
    blocks = done.stdout.split(b"\r\n\r\n")
    while len(blocks) > 1 and blocks[1].startswith(b"HTTP/"):
        blocks.pop(0)  # 100 Continue, redirects with -L
    head, body = blocks[0].decode("latin-1"), b"\r\n\r\n".join(blocks[1:])
    status_line, *lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return int(status_line.split()[1]), headers, body


def form_token(url: str, jar: Path) -> str:
    """GET a page as a browser would (cookies in `jar`); the token of its forms."""
    status, _, body = curl("-c", str(jar), "-b", str(jar), url)
    assert status == 200, body
    found = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    assert found, body
    return found.group(1).decode()


def login_form(url: str, jar: Path) -> str:
    token = form_token(url, jar)
    return f"username=alice&password=alice-pw&csrf_token={token}"


def test_upload_download_range_and_head_with_basic_auth(app, tmp_path: Path):
    source = tmp_path / "report.bin"
    source.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    url = base_url(app) + "/api/files/report.bin"
    status, _, body = curl("-u", "alice:alice-pw", "-T", str(source), url)
    assert status == 201, body
    assert (app.home("alice") / "report.bin").read_bytes() == source.read_bytes()
    app.wait_event(20050, lambda e: e["data"]["path"] == "/report.bin")

    status, headers, body = curl("-u", "alice:alice-pw", "-r", "256-511", url)
    assert status == 206
    assert body == bytes(range(256))
    assert headers["content-range"] == f"bytes 256-511/{1 << 20}"
    assert headers["content-disposition"].startswith("attachment;")

    status, headers, body = curl("-u", "alice:alice-pw", "-I", url)
    assert (status, headers["content-length"], body) == (200, str(1 << 20), b"")
    assert headers["accept-ranges"] == "bytes"
    status, headers, _ = curl("-u", "alice:alice-pw", "-I", base_url(app) + "/api/files/")
    assert (status, headers["x-file-type"]) == (200, "folder")

    app.wait_event(40007, lambda e: e["data"] == {"method": "GET", "path": "/report.bin"})
    app.wait_event(20052, lambda e: e["data"]["path"] == "/report.bin")


def test_wrong_password_and_no_credentials_are_refused(app):
    status, headers, _ = curl("-u", "alice:wrong", base_url(app) + "/api/files/")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    assert curl(base_url(app) + "/api/files/")[0] == 401
    app.wait_event(20021, lambda e: e["data"]["username"] == "alice")


def test_denied_operation_answers_403_and_is_recorded(app, tmp_path: Path):
    (tmp_path / "x.txt").write_text("x")
    url = base_url(app) + "/api/files/x.txt"
    status, _, body = curl("-u", "bob:bob-pw", "-T", str(tmp_path / "x.txt"), url)
    assert status == 403, body
    app.wait_event(20040, lambda e: e["account"] == "bob" and e["data"]["operation"] == "write")


def test_security_headers_and_hsts_only_on_https(app):
    for service in ("web", "webs"):
        status, headers, _ = curl(base_url(app, service) + "/login")
        assert status == 200
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert ("strict-transport-security" in headers) == (service == "webs")


@pytest.mark.parametrize("service", ["web", "webs"])
def test_session_cookie_flags(app, service, tmp_path: Path):
    url = base_url(app, service) + "/login"
    jar = tmp_path / "jar"
    status, headers, _ = curl("-b", str(jar), "-d", login_form(url, jar), url)
    assert status == 303
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert ("Secure" in cookie) == (service == "webs")


def test_cross_origin_post_is_refused_with_an_event(app):
    url = base_url(app) + "/login"
    form = "username=alice&password=alice-pw"
    status, _, body = curl("-H", "Origin: https://evil.example", "-d", form, url)
    assert (status, body) == (400, b"Possible CSRF")
    app.wait_event(40008, lambda e: e["data"]["origin"] == "https://evil.example")
    status, _, body = curl("-H", "Referer: https://evil.example/page", "-d", form, url)
    assert (status, body) == (400, b"Possible CSRF")


def test_same_origin_and_accepted_origins_pass(app, tmp_path: Path):
    web, webs = base_url(app), base_url(app, "webs")
    jar = tmp_path / "jar"
    form = login_form(web + "/login", jar)
    assert curl("-b", str(jar), "-H", f"Origin: {web}", "-d", form, web + "/login")[0] == 303
    referer = f"Referer: {web}/login"
    assert curl("-b", str(jar), "-H", referer, "-d", form, web + "/login")[0] == 303
    form = "username=alice&password=alice-pw"  # a portal's form cannot know the token
    assert curl("-H", f"Origin: {PORTAL}", "-d", form, webs + "/login")[0] == 303
    assert curl("-H", f"Origin: {PORTAL}", "-d", form, web + "/login")[0] == 400


def test_authenticated_get_from_another_site_is_refused(app):
    url = base_url(app) + "/api/files/"
    status, _, _ = curl("-u", "alice:alice-pw", "-H", "Origin: https://evil.example", url)
    assert status == 400


def test_redirect_service_sends_plain_http_to_https(app):
    status, headers, _ = curl(base_url(app, "redir") + "/files/a%20b?x=1")
    assert status == 308
    assert headers["location"] == f"https://127.0.0.1:{app.port('webs')}/files/a%20b?x=1"
    assert "strict-transport-security" not in headers


def test_forwarded_header_trusted_only_from_trusted_proxies(app):
    spoof = ("-H", "X-Forwarded-For: 198.51.100.23")
    curl(*spoof, "-u", "nobody:x", base_url(app, "webs") + "/api/files/")
    curl(*spoof, "-u", "nobody2:x", base_url(app) + "/api/files/")
    trusted = app.wait_event(20021, lambda e: e["data"]["username"] == "nobody")
    untrusted = app.wait_event(20021, lambda e: e["data"]["username"] == "nobody2")
    assert trusted["peer"] == "198.51.100.23"
    assert untrusted["peer"].startswith("127.0.0.1:")


@pytest.mark.parametrize("sent", ["none", "wrong", "no-cookie"])
def test_form_without_the_browsers_token_is_refused(app, tmp_path: Path, sent):
    web = base_url(app)
    jar = tmp_path / "jar"
    token = form_token(web + "/login", jar)
    field = {"none": "", "wrong": "&csrf_token=" + "x" * 43, "no-cookie": f"&csrf_token={token}"}
    form = "username=alice&password=alice-pw" + field[sent]
    cookies = () if sent == "no-cookie" else ("-b", str(jar))
    status, headers, body = curl(*cookies, "-d", form, web + "/login")
    assert status == 403 and b"out of date" in body
    assert "appliance_session" not in headers.get("set-cookie", "")


def test_folder_forms_need_the_token(app, tmp_path: Path):
    web = base_url(app)
    jar = tmp_path / "jar"
    status, _, _ = curl("-c", str(jar), "-b", str(jar), "-d", login_form(web + "/login", jar),
                        web + "/login")  # fmt: skip
    assert status == 303
    token = form_token(web + "/files/", jar)
    status, _, body = curl("-b", str(jar), "-d", "action=mkdir&name=forged", web + "/files/")
    assert status == 403 and b"out of date" in body
    assert not (app.home("alice") / "forged").exists()
    form = f"action=mkdir&name=made&csrf_token={token}"
    assert curl("-b", str(jar), "-d", form, web + "/files/")[0] == 303
    assert (app.home("alice") / "made").is_dir()
    status, _, _ = curl("-b", str(jar), "-d", "x=1", web + "/logout")
    assert status == 403
    assert curl("-b", str(jar), "-d", f"csrf_token={token}", web + "/logout")[0] == 303
