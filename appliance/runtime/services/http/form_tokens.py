"""Anti-CSRF tokens of the HTML forms (double submit): one random token in an HttpOnly,
SameSite=Strict cookie and the same token in a hidden field of every form the pages render.

A defence beside the Origin/Referer check of security.py, which lets a request carrying
neither header through (as curl sends them): a form post must also return its page's token,
which another site can neither read nor set. A post from one of `accepted_origins` (a
portal's login form on another site, which cannot know the token) is exempt, as that check
already names the portal trusted.
"""

from __future__ import annotations

import hmac
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from appliance.runtime.services.http.security import origin_of
from appliance.runtime.services.http.state import HTTPState

COOKIE_NAME = "appliance_form"
FIELD = "csrf_token"
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


def token_of(request: Request) -> str:
    """The browser's form token (from its cookie), or a new one when it has none."""
    token = request.cookies.get(COOKIE_NAME, "")
    return token if _WELL_FORMED.fullmatch(token) else secrets.token_urlsafe(32)


def remember(response: Response, state: HTTPState, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME, token, path="/", secure=state.https, httponly=True, samesite="strict"
    )


def _from_accepted_origin(request: Request, accepted: frozenset[str]) -> bool:
    claimed = request.headers.get("origin") or origin_of(request.headers.get("referer") or "")
    trusted = {origin.lower().rstrip("/") for origin in accepted}
    return claimed is not None and claimed.lower().rstrip("/") in trusted


def form_accepted(request: Request, form: dict[str, str], state: HTTPState) -> bool:
    """Whether a posted form carries the token of the browser's cookie (or needs none)."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    sent = form.get(FIELD, "")
    if cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode()):
        return True
    return _from_accepted_origin(request, state.accepted_origins)
