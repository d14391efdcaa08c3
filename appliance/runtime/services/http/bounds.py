"""How much of a request the HTTP service reads before refusing it.

The request head (request line and headers) and the trailers of a chunked body are bounded
by h11's own limit on an incomplete event (`MAX_REQUEST_HEAD`): past it the connection gets
431 (head) or 400 (trailers) and is closed. h11 applies its limit only to what it has not
parsed yet, so a head that arrives whole in one read is measured again here, where the
request reaches the application, together with the header count; JSON bodies too.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_REQUEST_HEAD = 32 * 1024
MAX_HEADER_COUNT = 100
MAX_JSON_BODY = 64 * 1024
MAX_JSON_DEPTH = 32

HEAD_TOO_LARGE = f"request head larger than {MAX_REQUEST_HEAD} bytes"
TRAILERS_TOO_LARGE = f"chunked trailers larger than {MAX_REQUEST_HEAD} bytes"
TOO_MANY_HEADERS = f"more than {MAX_HEADER_COUNT} header fields"


def json_nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets in strings ignored),
    computed without recursion so that any input is safe to measure."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def head_problem(scope: dict) -> str | None:
    """Why a request head is refused (too many fields, too large), or None."""
    headers = scope.get("headers", ())
    if len(headers) > MAX_HEADER_COUNT:
        return TOO_MANY_HEADERS
    size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
    size += sum(len(name) + len(value) + 4 for name, value in headers)
    return HEAD_TOO_LARGE if size > MAX_REQUEST_HEAD else None


class RequestHeadMiddleware:
    """ASGI middleware: a request head over the bounds gets 431."""

    def __init__(self, app, *, on_refused: Callable[[dict, str], None]) -> None:
        self.app = app
        self.on_refused = on_refused

    async def __call__(self, scope, receive, send) -> None:
        problem = head_problem(scope) if scope["type"] == "http" else None
        if problem is not None:
            self.on_refused(scope, problem)
            body = b"Request Header Fields Too Large"
            await send(
                {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
