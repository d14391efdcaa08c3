"""Browser protections: the CSRF Origin/Referer check and the security headers of every answer.

A request is checked when it changes state (any method but GET, HEAD, OPTIONS) or carries
credentials (a session cookie or an Authorization header). Its Origin, else its Referer,
must be the service's own origin (scheme and Host) or one of `accepted_origins`; a request
with neither header (curl, scripts) is not a browser's cross-site request and passes.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_MESSAGE = b"Possible CSRF"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
COMMON_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(https: bool) -> tuple[tuple[bytes, bytes], ...]:
    return (*COMMON_HEADERS, HSTS) if https else COMMON_HEADERS


def origin_of(url: str) -> str | None:
    """ "scheme://host[:port]" of a URL, lower-cased; None when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def needs_check(scope: dict) -> bool:
    if scope["method"] not in SAFE_METHODS:
        return True
    cookie = _header(scope, b"cookie") or ""
    return _header(scope, b"authorization") is not None or "appliance_session=" in cookie


def refused_origin(scope: dict, scheme: str, accepted: frozenset[str]) -> str | None:
    """The foreign origin a request came from, or None when it may proceed."""
    claimed = _header(scope, b"origin")
    if claimed is None:
        referer = _header(scope, b"referer")
        if referer is None:
            return None
        claimed = origin_of(referer) or referer
    host = (_header(scope, b"host") or "").lower()
    own = f"{scheme}://{host}"
    if claimed.lower() == own or claimed.lower() in accepted:
        return None
    return claimed


class SecurityMiddleware:
    """ASGI middleware: refuses cross-site requests (400) and adds the security headers."""

    def __init__(
        self,
        app,
        *,
        https: bool,
        accepted_origins: frozenset[str],
        on_refused: Callable[[dict, str], None],
    ) -> None:
        self.app = app
        self.scheme = "https" if https else "http"
        self.headers = security_headers(https)
        self.accepted = frozenset(origin.lower().rstrip("/") for origin in accepted_origins)
        self.on_refused = on_refused

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        if needs_check(scope):
            origin = refused_origin(scope, self.scheme, self.accepted)
            if origin is not None:
                self.on_refused(scope, origin)
                await _plain(send_with_headers, 400, CSRF_MESSAGE)
                return
        await self.app(scope, receive, send_with_headers)


async def _plain(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
