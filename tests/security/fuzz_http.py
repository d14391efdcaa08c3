"""Broken HTTP requests on real sockets: request lines, headers, bodies, framing."""

from __future__ import annotations

import random
import re
import socket
import ssl

GOOD = b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CASES: tuple[bytes, ...] = (
    b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/0.9\r\n\r\n",
    b"GET /\r\n",
    b"GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: \x00\x01\x02\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX\xff\xfe: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%00%ff%c0%ae HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 5000 + b"\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffff\r\nx\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    b"PUT /api/files/a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"0\r\n\r\n",
    b'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"a":[[[',
    b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 40\r\n\r\n{"username": 1, "password": [null, {}]}',
    b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"[" * 200_000,
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=\r\n"
    b"Content-Length: 10\r\n\r\n--\r\n--\r\n--",
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 30\r\n\r\nusername=%ff%fe&password=%zz&&",
    b"GET /api/session HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!\r\n\r\n",
    b"GET /api/session HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + b"QQ" * 40_000 + b"\r\n\r\n",
    b"GET /api/session HTTP/1.1\r\nHost: x\r\nCookie: appliance_session="
    + b"\xff" * 64
    + b"\r\n\r\n",
    b"GET /api/files/x HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999999999999999-\r\n\r\n",
    b"GET /api/files/x HTTP/1.1\r\nHost: x\r\nRange: bytes=-0,-1,5-2\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x00\x05hello",
)
_STATUS = re.compile(rb"^HTTP/1\.[01] (\d\d\d) ")
ALLOWED_ERRORS = {501, 505}


def random_request(rng: random.Random) -> bytes:
    base = bytearray(rng.choice((GOOD, *CASES[:20])))
    for _ in range(rng.randint(1, 6)):
        position = rng.randint(0, len(base))
        roll = rng.random()
        if roll < 0.4 and base:
            base[min(position, len(base) - 1)] = rng.randint(0, 255)
        elif roll < 0.7:
            base[position:position] = rng.randbytes(rng.randint(1, 16))
        else:
            del base[position : position + rng.randint(1, 8)]
    return bytes(base)


def exchange(port: int, request: bytes, tls: ssl.SSLContext | None) -> bytes:
    """Send one request, half-close, read until the server closes or the timeout passes.

    TLS cannot half-close: a server still waiting for the rest of a body is left after 3 s.
    """
    timeout = 3 if tls else 15
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock = tls.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
    received = bytearray()
    with sock:
        try:
            sock.sendall(request)
            if tls is None:
                sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
                if tls is not None and b"\r\n\r\n" in received:
                    break  # TLS has no half-close: one answer is enough
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            pass
    return bytes(received)


def check_answer(data: bytes) -> str | None:
    """None when `data` is empty (clean close) or starts with an acceptable status line."""
    if not data:
        return None
    match = _STATUS.match(data)
    if match is None:
        return f"not an HTTP answer: {data[:120]!r}"
    status = int(match.group(1))
    if status >= 500 and status not in ALLOWED_ERRORS:
        return f"server error {status}: {data[:300]!r}"
    return None
