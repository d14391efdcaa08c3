"""HTTP bounds against the running appliance: an oversized request head or chunked trailers,
an absurd Range, deeply nested JSON. Each gets a 4xx with the security headers, an event
where the bound is the appliance's own (40012), never a 500 nor a traceback, and RSS stays
bounded: growth under RSS_GROWTH_LIMIT after four 16 MiB heads at once and a 16 MiB trailer.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading

import pytest

from tests.helpers import wait_for
from tests.security.hardening_site import ALICE_PASSWORD, hardening_appliance
from tests.security.site import rss_bytes

RSS_GROWTH_LIMIT = 64 * 1024 * 1024
SIXTEEN_MIB = 16 * 1024 * 1024
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")
AUTH = "Basic " + base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with hardening_appliance(tmp_path_factory.mktemp("bounds")) as running:
        yield running


def _serve_log(app) -> str:
    return (app.root / "serve.log").read_text("utf-8", errors="replace")


def _status_and_headers(response: bytes) -> tuple[int, dict[str, str]]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), headers


def _exchange(port: int, request_parts, *, read_timeout: float = 60) -> bytes | None:
    """Send the parts (bytes, or a callable writing to the socket) while reading the answer in
    parallel; the answer, or None when the server reset the connection before we read it
    (it may close while unread data of ours is still in flight, which Linux turns into RST)."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:

        def send() -> None:
            try:
                for part in request_parts:
                    sock.sendall(part)
            except OSError:
                pass  # the server refused and closed: expected for oversized input

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            return received or None
        finally:
            sender.join(read_timeout)
        return received


def _big_header_parts(size: int):
    yield b"GET /login HTTP/1.1\r\nHost: x\r\nX-Big: "
    block = b"a" * 65536
    for _ in range(size // len(block)):
        yield block
    yield b"\r\n\r\n"


def _still_serving(app) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", app.port("web"), timeout=60)
    conn.request("GET", "/api/session", headers={"authorization": AUTH})
    assert conn.getresponse().status == 200
    conn.close()


def test_oversized_request_heads_get_431_and_memory_stays_bounded(app):
    port = app.port("web")
    # Just over the bound, in one piece: refused by the application's own head check.
    answer = _exchange(
        port, [b"GET /login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"]
    )
    if answer is not None:
        status, headers = _status_and_headers(answer)
        assert status == 431
        assert all(name in headers for name in SECURITY_HEADERS)
    # Too many header fields.
    many = b"".join(b"X-N%d: v\r\n" % i for i in range(300))
    status, headers = _status_and_headers(
        _exchange(port, [b"GET /login HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"])
    )
    assert status == 431
    assert all(name in headers for name in SECURITY_HEADERS)

    before = rss_bytes(app.process.pid)
    answers: list[bytes | None] = [None] * 4

    def one(index: int) -> None:
        answers[index] = _exchange(port, _big_header_parts(SIXTEEN_MIB))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    for answer in answers:
        if answer:  # a reset is fine; an answer must be 431
            assert _status_and_headers(answer)[0] == 431
    growth = rss_bytes(app.process.pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth} bytes"
    refused = wait_for(
        lambda: [e for e in app.events(40012) if e["data"]["status"] == 431] or None, timeout=60
    )
    assert (
        "request head larger than" in refused[-1]["message"]
        or "header fields" in refused[-1]["message"]
    )
    _still_serving(app)
    assert "Traceback" not in _serve_log(app)


def test_oversized_chunked_trailers_get_400_and_memory_stays_bounded(app):
    before = rss_bytes(app.process.pid)

    def parts():
        yield (
            b"PUT /api/files/trailer.bin HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + AUTH.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
        )
        line = b"X-T: " + b"t" * 1000 + b"\r\n"
        block = line * 64
        for _ in range(SIXTEEN_MIB // len(block)):
            yield block
        yield b"\r\n"

    answer = _exchange(app.port("web"), parts())
    if answer:
        status, headers = _status_and_headers(answer)
        assert status == 400
        assert all(name in headers for name in SECURITY_HEADERS)
    growth = rss_bytes(app.process.pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth} bytes"
    wait_for(
        lambda: any("trailers larger than" in e["message"] for e in app.events(40012)),
        timeout=60,
    )
    assert not (app.home("alice") / "trailer.bin").exists()
    _still_serving(app)
    assert "Traceback" not in _serve_log(app)


def _request(app, method: str, path: str, body: bytes | None = None, **headers: str):
    conn = http.client.HTTPConnection("127.0.0.1", app.port("web"), timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_absurd_range_gets_416_not_500(app):
    response, _ = _request(app, "PUT", "/api/files/ranged.txt", b"0123456789", authorization=AUTH)
    assert response.status in (200, 201)
    digits = "9" * 5000
    for header in (f"bytes={digits}-", f"bytes=0-{digits}", f"bytes=-{digits}"):
        response, data = _request(
            app, "GET", "/api/files/ranged.txt", authorization=AUTH, range=header
        )
        assert response.status in (200, 206, 416), (header[:20], response.status)
        assert all(response.getheader(name) for name in SECURITY_HEADERS)
        if response.status == 416:
            continue
        assert data == b"0123456789"  # the last position clamps to the end of the file
    response, _ = _request(
        app, "GET", "/api/files/ranged.txt", authorization=AUTH, range=f"bytes={digits}-"
    )
    assert response.status == 416
    assert "Traceback" not in _serve_log(app)


def test_deeply_nested_json_gets_a_clear_400(app):
    response, data = _request(
        app, "POST", "/api/login", b"[" * 30000, **{"content-type": "application/json"}
    )
    assert response.status == 400
    assert "nested deeper than" in json.loads(data)["error"]
    assert all(response.getheader(name) for name in SECURITY_HEADERS)
    response, data = _request(
        app,
        "POST",
        "/api/login",
        b'{"a": "' + b"x" * 100000 + b'"}',
        **{"content-type": "application/json"},
    )
    assert response.status == 400
    assert "larger than" in json.loads(data)["error"]
    assert "Traceback" not in _serve_log(app)


def test_every_error_response_carries_the_security_headers(app):
    # A malformed request line: refused by the HTTP parser itself.
    answer = _exchange(app.port("web"), [b"NOT AN HTTP REQUEST\r\n\r\n"])
    status, headers = _status_and_headers(answer)
    assert status == 400
    assert all(name in headers for name in SECURITY_HEADERS)
    for method, path in (("GET", "/no/such/page"), ("DELETE", "/login"), ("GET", "/api/session")):
        response, _ = _request(app, method, path)
        assert response.status >= 400
        assert all(response.getheader(name) for name in SECURITY_HEADERS), (method, path)
