"""Control characters chosen by a client never reach a human-readable sink raw.

An ESC in an HTTP Basic user name and in an FTP USER name must show as `\\x1b` in the text
log, the `serve` echo and `appliance events`, while the audit database keeps the exact name.
"""

from __future__ import annotations

import base64
import http.client
import socket

import pytest

from tests.helpers import wait_for
from tests.security.hardening_site import appliance_cli, hardening_appliance, text_log

HTTP_NAME = "web\x1b[2Jadmin\x07"
FTP_NAME = "ftp\x1b]0;owned\x07\x7f\x9b"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with hardening_appliance(tmp_path_factory.mktemp("escaping")) as running:
        yield running


def _http_basic_attempt(port: int, username: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    token = base64.b64encode(f"{username}:wrong".encode()).decode()
    conn.request("GET", "/api/session", headers={"authorization": f"Basic {token}"})
    status = conn.getresponse().status
    conn.close()
    return status


def _ftp_user_attempt(port: int, username: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        stream = sock.makefile("rwb")
        assert stream.readline().startswith(b"220")
        stream.write(b"USER " + username.encode("utf-8") + b"\r\n")
        stream.flush()
        assert stream.readline().startswith(b"331")
        stream.write(b"PASS wrong\r\n")
        stream.flush()
        assert stream.readline()[:1] in (b"4", b"5")
        stream.write(b"QUIT\r\n")
        stream.flush()


def _failed_for(app, username: str) -> dict:
    return app.wait_event(20021, lambda e: e["data"].get("username") == username, timeout=60)


def test_client_controls_are_escaped_in_every_text_sink(app):
    assert _http_basic_attempt(app.port("web"), HTTP_NAME) == 401
    _ftp_user_attempt(app.port("ftp"), FTP_NAME)

    # The structured copy keeps the exact names.
    _failed_for(app, HTTP_NAME)
    _failed_for(app, FTP_NAME)

    def logged() -> str | None:
        text = text_log(app)
        return text if "web\\x1b[2Jadmin\\x07" in text and "ftp\\x1b]0;owned" in text else None

    log = wait_for(logged, timeout=60)
    assert "ftp\\x1b]0;owned\\x07\\x7f\\x9b" in log
    for raw in ("\x1b", "\x07", "\x7f", "\x9b", "\x00"):
        assert raw not in log

    def echoed() -> str | None:
        text = (app.root / "serve.log").read_text("utf-8")
        return text if "ftp\\x1b]0;owned" in text else None

    echo = wait_for(echoed, timeout=60)
    assert "\x1b" not in echo and "\x07" not in echo

    table = appliance_cli("events", "-c", str(app.root), "--id", "20021")
    assert table.returncode == 0, table.stderr
    assert "web\\x1b[2Jadmin\\x07" in table.stdout
    assert "ftp\\x1b]0;owned\\x07\\x7f\\x9b" in table.stdout
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout

    as_json = appliance_cli("events", "-c", str(app.root), "--id", "20021", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert "\\u001b[2Jadmin" in as_json.stdout  # JSON keeps the value, in JSON's own escape
