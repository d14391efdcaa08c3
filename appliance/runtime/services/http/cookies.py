"""The session cookie: HttpOnly, SameSite=Strict, Secure on HTTPS, scoped to the whole site.

It lives until the browser closes; the token inside expires on its own and is re-signed
with a later expiry on every authenticated answer (the session timeout slides).
"""

from __future__ import annotations

from starlette.responses import Response

from appliance.runtime.services.http.sessions import COOKIE_NAME, Session
from appliance.runtime.services.http.state import HTTPState


def set_session_cookie(response: Response, state: HTTPState, session: Session) -> None:
    response.set_cookie(
        COOKIE_NAME,
        state.sessions.token(session),
        path="/",
        secure=state.https,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, state: HTTPState) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=state.https, httponly=True, samesite="strict"
    )
