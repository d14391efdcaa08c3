"""The http, https and http-redirect service types, run inside the supervisor's asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from appliance.config import Section
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.event import format_peer
from appliance.runtime.net.tls import server_context
from appliance.runtime.services.http.app import build_app
from appliance.runtime.services.http.auth import expire_sessions, log_out
from appliance.runtime.services.http.bounds import HEAD_TOO_LARGE
from appliance.runtime.services.http.listener import Listener, listen_socket
from appliance.runtime.services.http.peers import is_trusted
from appliance.runtime.services.http.redirect import RedirectApp
from appliance.runtime.services.http.security import security_headers
from appliance.runtime.services.http.state import HTTPState

EXPIRY_SWEEP_SECONDS = 15


def _report_refused_proxy(service, peer: tuple, reason: str) -> None:
    """Event 40010: a trusted balancer's connection came without a valid PROXY header."""
    service.context.bus.emit(
        40010,
        service.state.component,
        peer=format_peer(*peer[:2]) if peer else None,
        reason=reason,
    )


class HTTPService:
    """The browser file manager and JSON API over HTTP or HTTPS (service types http, https)."""

    def __init__(self, section: Section, context: RuntimeContext) -> None:
        self.section = section
        self.context = context
        self.state: HTTPState | None = None
        self.listener: Listener | None = None
        self._sweeper: asyncio.Task | None = None

    @property
    def listening(self) -> tuple[str, int]:
        return self.listener.address

    def _certificate(self) -> Path:
        pem = self.section.path("tls_private_certificate")
        pem = pem or self.context.config.server.path("tls_private_certificate")
        if pem is None:
            raise ValueError(
                f"service {self.section.id} is https but has no tls_private_certificate "
                "(set it on the service or in [server])"
            )
        return pem

    def _on_connection(self, peer: tuple) -> bool:
        """Event 40009; a banned address is dropped unless it is a trusted proxy."""
        if not peer:
            return True
        address, port = peer[0], peer[1]
        self.context.bus.emit(
            40009,
            self.state.component,
            peer=format_peer(address, port),
            service=self.section.id,
        )
        if is_trusted(address, self.state.trusted_proxies) and not self.state.proxy_protocol_from:
            return True  # a forwarded-for proxy: the ban check waits for the header
        return self.context.aaa.connection_allowed(address, self.state.component)

    _on_refused = _report_refused_proxy

    def _on_bad_request(self, peer: tuple, reason: str) -> None:
        """Event 40012 for a request h11 refused (malformed, or its head or trailers too big)."""
        status = 431 if reason == HEAD_TOO_LARGE else 400
        self.context.bus.emit(
            40012,
            self.state.component,
            peer=format_peer(*peer[:2]) if peer else None,
            status=status,
            reason=reason,
        )

    async def start(self) -> None:
        options = self.section.options
        self.state = HTTPState.from_section(self.section, self.context)
        tls = server_context(self._certificate()) if self.state.https else None
        sock = listen_socket(options["address"], options["port"])
        self.listener = Listener(
            build_app(self.state),
            sock,
            tls=tls,
            on_connection=self._on_connection,
            idle_timeout=options.get("idle_connection_timeout", 300),
            max_connections=options.get("maximum_concurrent_connections"),
            proxy_protocol=self.state.proxy_protocol_from,
            on_refused=self._on_refused,
            on_bad_request=self._on_bad_request,
            error_headers=security_headers(self.state.https),
        )
        await self.listener.start()
        self._sweeper = asyncio.create_task(self._sweep_sessions())

    async def _sweep_sessions(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
            expire_sessions(self.state)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self.listener is not None:
            await self.listener.stop()
        for session in self.state.sessions.all():
            # Only here: behind a load balancer the session goes on on another node.
            log_out(self.state, session, everywhere=False)


class HTTPRedirectService:
    """Plain HTTP that only redirects (308) to the HTTPS service's port (http-redirect)."""

    def __init__(self, section: Section, context: RuntimeContext) -> None:
        self.section = section
        self.context = context
        self.listener: Listener | None = None

    @property
    def listening(self) -> tuple[str, int]:
        return self.listener.address

    _on_refused = _report_refused_proxy

    async def start(self) -> None:
        options = self.section.options
        sock = listen_socket(options["address"], options["port"])
        app = RedirectApp(options["redirect_to_port"])
        idle = options.get("idle_connection_timeout", 300)
        self.listener = Listener(app, sock, idle_timeout=idle)
        await self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
