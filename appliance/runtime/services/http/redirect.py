"""The http-redirect service's application: every request is sent to the HTTPS port."""

from __future__ import annotations

from appliance.runtime.services.http.security import security_headers


def _host_name(host: str) -> str:
    """The Host header without its port ("[::1]:80" gives "[::1]")."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RedirectApp:
    def __init__(self, port: int) -> None:
        self.port = port

    def location(self, scope: dict) -> str | None:
        headers = dict(scope.get("headers", []))
        host = headers.get(b"host", b"").decode("latin-1").strip()
        if not host or any(c in host for c in "/\\@ \t"):
            return None
        port = "" if self.port == 443 else f":{self.port}"
        path = scope.get("raw_path") or scope["path"].encode()
        query = b"?" + scope["query_string"] if scope.get("query_string") else b""
        return f"https://{_host_name(host)}{port}" + (path + query).decode("latin-1")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        location = self.location(scope)
        status, body = (308, b"Moved to HTTPS\n") if location else (400, b"No Host header\n")
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *security_headers(False),
        ]
        if location:
            headers.append((b"location", location.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
