"""A uvicorn server embedded in the runtime's asyncio loop, on a socket we bind ourselves.

uvicorn's own signal capture is switched off (the supervisor owns the signals) and so is
its lifespan and proxy-header handling (peers.py decides whom to trust). Each connection
is announced to `on_connection`, which may refuse it (a banned address) by returning False.

With `proxy_protocol` (the addresses of trusted load balancers), connections are accepted
here rather than by uvicorn: a PROXY v2 header from a trusted balancer is read off the raw
socket before TLS, and the request's client becomes the address it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
from collections.abc import Callable

import h11
import uvicorn

from appliance.runtime.net.proxy_gate import PROXY_HEADER_TIMEOUT, real_peer, socket_peer
from appliance.runtime.net.proxy_protocol import ProxyProtocolError
from appliance.runtime.services.http.bounds import (
    HEAD_TOO_LARGE,
    MAX_REQUEST_HEAD,
    TRAILERS_TOO_LARGE,
)

OnConnection = Callable[[tuple], bool]
OnRefused = Callable[[tuple, str], None]
OnBadRequest = Callable[[tuple, str], None]


def listen_socket(address: str, port: int) -> socket.socket:
    """A bound, listening TCP socket; "::" also accepts IPv4 where the system allows it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((address, port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _guarded(
    protocol_class: type,
    on_connection: OnConnection,
    on_bad_request: OnBadRequest,
    error_headers: tuple[tuple[bytes, bytes], ...],
) -> type:
    class GuardedProtocol(protocol_class):
        proxied_peer: tuple[str, int] | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if self.proxied_peer is not None:
                self.client = self.proxied_peer  # what the request scope calls the client
            peer = self.proxied_peer or transport.get_extra_info("peername") or ()
            if not on_connection(peer):
                transport.close()

        def send_400_response(self, msg: str) -> None:
            """uvicorn's answer to anything h11 refuses, with the status the refusal deserves
            (431 for an oversized head), the security headers and an event."""
            oversized = len(self.conn.trailing_data[0]) > MAX_REQUEST_HEAD
            cycle = getattr(self, "cycle", None)
            reading_body = cycle is not None and cycle.more_body and not cycle.disconnected
            if oversized and reading_body:
                status, reason = 400, TRAILERS_TOO_LARGE
            elif oversized:
                status, reason = 431, HEAD_TOO_LARGE
            else:
                status, reason = 400, "malformed HTTP request"
            on_bad_request(self.client or (), reason)
            if cycle is not None and not cycle.response_complete:
                # The application is still serving this request: from now on it talks to a
                # closed connection (as after connection_lost), not to h11, which has moved on.
                cycle.disconnected = True
                cycle.message_event.set()
            if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                self.transport.close()  # a response has begun: closing is the only answer
                return
            body = f"{reason}\n".encode()
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"connection", b"close"),
                *error_headers,
            ]
            for event in (
                h11.Response(status_code=status, headers=headers),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def connection_lost(self, exc) -> None:
            super().connection_lost(exc)
            # uvicorn cancels its keep-alive timer only on a clean close (exc is None). After a
            # reset or a TLS error the armed timer (idle_connection_timeout, 300 s by default)
            # would keep this protocol, its transport, the TLS buffers and the last request's
            # scope alive until it fires: memory that grows with every such connection.
            timer = getattr(self, "timeout_keep_alive_task", None)
            if timer is not None:
                timer.cancel()
                self.timeout_keep_alive_task = None

    return GuardedProtocol


class Listener:
    """Serve `app` on `sock` until stop(); TLS when `tls` is given."""

    def __init__(
        self,
        app,
        sock: socket.socket,
        *,
        tls: ssl.SSLContext | None = None,
        on_connection: OnConnection = lambda peer: True,
        idle_timeout: int = 300,
        max_connections: int | None = None,
        proxy_protocol: tuple[str, ...] = (),
        on_refused: OnRefused = lambda peer, reason: None,
        on_bad_request: OnBadRequest = lambda peer, reason: None,
        error_headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.sock = sock
        self.tls = tls
        self.proxy_protocol = list(proxy_protocol)
        self.on_refused = on_refused
        self._accepting: asyncio.Task | None = None
        self._handshakes: set[asyncio.Task] = set()
        config = uvicorn.Config(
            app,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            access_log=False,
            log_config=None,
            timeout_keep_alive=idle_timeout,
            limit_concurrency=max_connections,
            http="h11",  # httptools has no bound on the request head; h11 has one
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
        )
        config.load()
        config.ssl = tls
        config.http_protocol_class = _guarded(
            config.http_protocol_class, on_connection, on_bad_request, error_headers
        )
        self.server = _EmbeddedServer(config)
        self._loop_task: asyncio.Task | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    async def start(self) -> None:
        self.server.lifespan = self.server.config.lifespan_class(self.server.config)
        if self.proxy_protocol:
            await self.server.startup(sockets=[])  # the state only; we accept ourselves
            self._accepting = asyncio.create_task(self._accept_loop())
        else:
            await self.server.startup(sockets=[self.sock])
        self._loop_task = asyncio.create_task(self.server.main_loop())

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._accepting is not None:
            self._accepting.cancel()
            for task in list(self._handshakes):
                task.cancel()
        if self._loop_task is not None:
            await self._loop_task
        await self.server.shutdown(sockets=[self.sock])

    # -- connections behind a load balancer (PROXY protocol v2) ----------------
    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(self.sock)
            except OSError:  # out of file descriptors and the like: breathe
                await asyncio.sleep(0.1)
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = asyncio.create_task(self._serve_proxied(client))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _serve_proxied(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        balancer: tuple = ()
        try:
            balancer = socket_peer(client)
            peer = await real_peer(client, self.proxy_protocol)
        except (ProxyProtocolError, OSError) as error:
            self.on_refused(balancer, str(error))
            client.close()
            return
        server, config = self.server, self.server.config

        def protocol():
            made = config.http_protocol_class(
                config=config, server_state=server.server_state, app_state=server.lifespan.state
            )
            made.proxied_peer = peer
            return made

        try:
            await loop.connect_accepted_socket(
                protocol, client, ssl=self.tls, ssl_handshake_timeout=PROXY_HEADER_TIMEOUT
            )
        except (OSError, ssl.SSLError, TimeoutError):
            client.close()  # a failed TLS handshake: nothing was served
