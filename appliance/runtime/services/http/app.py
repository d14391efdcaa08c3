"""The ASGI application of an HTTP(S) listener: pages, JSON API, static files, protections."""

from __future__ import annotations

from collections.abc import Callable
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


def _reporter(state: HTTPState, event_id: int, data: Callable[[dict, str], dict]):
    """A callback for a middleware that refused a request: the event, with the real peer."""

    def refused(scope: dict, detail: str) -> None:
        peer = client_peer(scope, state.forwarded_header, state.trusted_proxies)
        state.context.bus.emit(
            event_id,
            state.component,
            peer=format_peer(peer.address, peer.port),
            **data(scope, detail),
        )

    return refused


def _csrf_data(scope: dict, origin: str) -> dict:
    return {"method": scope["method"], "path": scope["path"], "origin": origin}


def _head_data(scope: dict, reason: str) -> dict:
    return {"status": 431, "reason": reason}


def build_app(state: HTTPState) -> SecurityMiddleware:
    """Starlette with the security middleware outermost: Starlette's own error middleware
    answers an unexpected exception with a 500 outside any middleware given to Starlette, and
    that answer must carry the security headers too."""
    bounds = Middleware(RequestHeadMiddleware, on_refused=_reporter(state, 40012, _head_data))
    routes = [*pages.ROUTES, *api.ROUTES, Mount("/static", StaticFiles(directory=STATIC))]
    app = Starlette(routes=routes, middleware=[bounds])
    app.state.http = state
    return SecurityMiddleware(
        app,
        https=state.https,
        accepted_origins=state.accepted_origins,
        on_refused=_reporter(state, 40008, _csrf_data),
    )
