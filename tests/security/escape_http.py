"""Path-escape attempts over HTTP: the API, the file pages and the static files, raw targets."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable

from tests.security.tally import WRITE_MARKER, Leak, Tally

ROUTES = (
    ("GET", "/api/files/"),
    ("HEAD", "/api/files/"),
    ("PUT", "/api/files/"),
    ("DELETE", "/api/files/"),
    ("GET", "/api/stat/"),
    ("POST", "/api/folders/"),
    ("GET", "/files/"),
    ("GET", "/static/"),
    ("POST", "/api/rename"),
    ("GET", "/"),
)
_KEEP = frozenset(range(0x21, 0x7F)) - {ord("?"), ord("#")}


def target(path: bytes) -> str:
    """A request target with the path's bytes as they are where HTTP allows, else %XX.

    `%` stays literal, so `%2e%2e` in a generated path reaches the server encoded once.
    """
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in path.lstrip(b"/"))


class Client:
    """HTTP/1.1 keep-alive over one connection, logged in with a session cookie."""

    def __init__(self, port: int, user: str, password: str, tls_context=None) -> None:
        self.port, self.user, self.password, self.tls = port, user, password, tls_context
        self.connect()

    def connect(self) -> None:
        if self.tls is not None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls)
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        body = json.dumps({"username": self.user, "password": self.password})
        self.cookie = ""
        status, headers, _ = self.request("POST", "/api/login", body.encode())
        if status != 200:
            raise RuntimeError(f"login failed with {status}")
        self.cookie = headers["set-cookie"].split(";", 1)[0]

    def request(self, method: str, url: str, body: bytes | None = None):
        headers = {"cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["content-type"] = "application/octet-stream"
        self.conn.request(method, url, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def local_redirect(location: str) -> bool:
    """A redirect to a path of this same service (never another host: no open redirect)."""
    return location.startswith("/") and not location.startswith(("//", "/\\"))


def attempt(client: Client, method: str, route: str, raw: bytes):
    if route == "/api/rename":
        text = raw.decode("utf-8", "replace")
        client.request("PUT", "/api/files/mine.txt", WRITE_MARKER)
        pairs = [("mine.txt", text), (text, "stolen.txt")]
        body = json.dumps({"source": pairs[len(raw) % 2][0], "destination": pairs[len(raw) % 2][1]})
        return client.request("POST", route, body.encode())
    if route == "/":
        return client.request("GET", "/" + target(raw))
    body = WRITE_MARKER if method == "PUT" else None
    return client.request(method, route + target(raw), body)


def run(
    port: int, user: str, password: str, paths: Iterable[bytes], leaked: Leak, tls_context=None
) -> Tally:
    tally = Tally("https" if tls_context else "http")
    client = Client(port, user, password, tls_context)
    for index, raw in enumerate(paths):
        method, route = ROUTES[index % len(ROUTES)]
        tally.attempts += 1
        try:
            status, headers, data = attempt(client, method, route, raw)
        except (http.client.HTTPException, OSError) as error:
            tally.disconnects += 1
            tally.broken.append(f"{method} {route} {raw!r}: {error!r}")
            client.conn.close()
            client.connect()
            continue
        if 200 <= status < 300:
            tally.accepted += 1
        elif (
            400 <= status < 500
            or 300 <= status < 400
            and local_redirect(headers.get("location", ""))
        ):
            tally.refused += 1
        else:
            tally.broken.append(f"{method} {route} {raw!r}: status {status}")
        tally.saw(data + json.dumps(headers).encode(), leaked, f"{method} {route} {raw!r}")
    client.conn.close()
    return tally
