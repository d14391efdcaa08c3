"""The HTTP API method against a real local HTTP(S) server: accept, pass, reject, timeout, TLS."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.aaa_support import login, make_aaa
from tests.lab_pki import CA


class AuthService(BaseHTTPRequestHandler):
    """Decides by username: accept, accept-204, pass, reject, slow, error, redirect, bad-json."""

    requests: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/redirected":
            body["redirected"] = True
        self.requests.append(body)
        name = body["credentials"]["username"]
        if name == "slow":
            time.sleep(3)
        replies = {
            "accept": (
                200,
                {
                    "home_folder": "api-homes/${USER}",
                    "groups": ["api"],
                    "permissions": ["allow-list", "/in/*, allow-write"],
                },
            ),
            "plain": (200, None),
            "accept-204": (204, None),
            "pass": (401, None),
            "reject": (403, None),
            "error": (500, None),
            "bad-json": (200, "not json"),
            "bad-permissions": (200, {"permissions": ["allow-everything"]}),
            "slow": (200, {}),
        }
        if name == "redirect":
            self.send_response(307)
            self.send_header("Location", "/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, payload = replies.get(name, (403, None))
        if name == "accept" and body["credentials"]["content"] != "s3cret":
            status, payload = 403, None
        data = (
            b""
            if payload is None
            else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)


def serve(tls_context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), AuthService)
    server.daemon_threads = True
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    folder = tmp_path_factory.mktemp("http-api")
    ca = CA()
    crt, key = ca.issue("localhost").write(folder, "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    (folder / "ca.crt").write_bytes(ca.pem)
    (folder / "other.crt").write_bytes(CA("Other CA").pem)
    plain, plain_thread = serve()
    secure, secure_thread = serve(context)
    yield folder, plain.server_address[1], secure.server_address[1]
    for server, thread in ((plain, plain_thread), (secure, secure_thread)):
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def aaa(services, tmp_path):
    folder, port, tls_port = services
    AuthService.requests.clear()
    return make_aaa(
        tmp_path,
        f"""
        [server]
        name = test-appliance
        authentications = api

        [authentications/api]
        type = http
        url = http://127.0.0.1:{port}/login
        timeout = 1
        default_group = api

        [authentications/api-tls]
        type = http
        url = https://localhost:{tls_port}/login
        ca_certificate = {folder}/ca.crt
        default_group = api

        [authentications/api-wrong-ca]
        type = http
        url = https://localhost:{tls_port}/login
        ca_certificate = {folder}/other.crt
        default_group = api

        [authentications/local]
        type = application

        [groups/api]
        home_folder_path = api-default/${{USER}}
        permissions = allow-list, allow-read
        """,
    )


def test_accept_with_home_groups_and_permissions_from_the_answer(aaa, tmp_path):
    core, bus = aaa
    result = core.authenticate(login("accept", "s3cret", protocol="ftp", service="ftp"))
    assert result.accepted, result.reason
    account = result.account
    assert account.home_folder == (tmp_path / "api-homes" / "accept").resolve()
    assert account.groups == ("api",)
    assert account.permissions.allows("write", "/in/a") and not account.permissions.allows(
        "write", "/a"
    )
    request = AuthService.requests[-1]
    assert request["credentials"] == {
        "type": "password",
        "username": "accept",
        "content": "s3cret",
        "peer": {"address": "127.0.0.1", "port": 40000},
    }
    assert request["server"] == {"name": "test-appliance", "service": "ftp", "protocol": "ftp"}
    assert "s3cret" not in bus.last(20137).to_json()


@pytest.mark.parametrize("username", ["accept-204", "plain"])
def test_accept_without_details_uses_the_default_group(aaa, tmp_path, username):
    core, _ = aaa
    result = core.authenticate(login(username, "x"))
    assert result.accepted, result.reason
    assert result.account.home_folder == (tmp_path / "api-default" / username).resolve()
    assert result.account.permissions.allows("read", "/f")


def test_wrong_password_is_rejected(aaa):
    core, _ = aaa
    result = core.authenticate(login("accept", "wrong"))
    assert not result.accepted and result.method == "api"


def test_reject_stops_the_chain_and_pass_moves_on(aaa):
    core, _ = aaa
    reject = core.authenticate(login("reject", "x"), chain=["api", "local"])
    assert not reject.accepted and "rejected" in reject.reason
    passed = core.authenticate(login("pass", "x"), chain=["api", "local"])
    assert not passed.accepted
    assert "api: the HTTP service does not know" in passed.reason


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("slow", "timed out"),
        ("error", "answered 500"),
        ("redirect", "answered 307"),
        ("bad-json", "not JSON"),
        ("bad-permissions", "unknown permission"),
    ],
)
def test_errors_are_reported_and_never_accept(aaa, username, error):
    core, bus = aaa
    result = core.authenticate(login(username, "x"))
    assert not result.accepted
    assert error in bus.last(20022).data["error"]
    assert not any(request.get("redirected") for request in AuthService.requests)


def test_https_with_the_configured_ca(aaa):
    core, _ = aaa
    assert core.authenticate(login("accept", "s3cret"), chain=["api-tls"]).accepted


def test_https_with_another_ca_is_refused(aaa):
    core, bus = aaa
    result = core.authenticate(login("accept", "s3cret"), chain=["api-wrong-ca"])
    assert not result.accepted
    assert "CERTIFICATE_VERIFY_FAILED" in bus.last(20022).data["error"]


def test_public_key_is_sent_as_an_openssh_line(aaa):
    core, _ = aaa
    blob = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    wire = base64.b64decode(blob.split()[1])
    core.authenticate(login("reject", public_key=wire))
    sent = AuthService.requests[-1]["credentials"]
    assert sent["type"] == "publickey"
    assert sent["content"] == blob.decode()
