"""The ASGI application of an HTTP(S) listener: pages, JSON API, static files, protections."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from appliance.runtime.events.event import format_peer
from appliance.runtime.services.http import api, pages
from appliance.runtime.services.http.bounds import RequestHeadMiddleware
from appliance.runtime.services.http.peers import client_peer
from appliance.runtime.services.http.security import SecurityMiddleware
from appliance.runtime.services.http.state import HTTPState

STATIC = Path(__file__).parent / "static"


def _csrf_reporter(state: HTTPState):
    def refused(scope: dict, origin: str) -> None:
        peer = client_peer(scope, state.forwarded_header, state.trusted_proxies)
        state.context.bus.emit(
            40008,
            state.component,
            peer=format_peer(peer.address, peer.port),
            method=scope["method"],
            path=scope["path"],
            origin=origin,
        )

    return refused


def _head_reporter(state: HTTPState):
    def refused(scope: dict, reason: str) -> None:
        peer = client_peer(scope, state.forwarded_header, state.trusted_proxies)
        state.context.bus.emit(
            40012,
            state.component,
            peer=format_peer(peer.address, peer.port),
            status=431,
            reason=reason,
        )

    return refused


def build_app(state: HTTPState) -> SecurityMiddleware:
    """Starlette with the security middleware outermost: Starlette's own error middleware
    answers an unexpected exception with a 500 outside any middleware given to Starlette, and
    that answer must carry the security headers too."""
    bounds = Middleware(RequestHeadMiddleware, on_refused=_head_reporter(state))
    routes = [*pages.ROUTES, *api.ROUTES, Mount("/static", StaticFiles(directory=STATIC))]
    app = Starlette(routes=routes, middleware=[bounds])
    app.state.http = state
    return SecurityMiddleware(
        app,
        https=state.https,
        accepted_origins=state.accepted_origins,
        on_refused=_csrf_reporter(state),
    )
