"""A uvicorn server embedded in the runtime's asyncio loop, on a socket we bind ourselves.

uvicorn's own signal capture is switched off (the supervisor owns the signals) and so is
its lifespan and proxy-header handling (peers.py decides whom to trust). Each connection
is announced to `on_connection`, which may refuse it (a banned address) by returning False.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
from collections.abc import Callable

import uvicorn

OnConnection = Callable[[tuple], bool]


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


def _guarded(protocol_class: type, on_connection: OnConnection) -> type:
    class GuardedProtocol(protocol_class):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if not on_connection(transport.get_extra_info("peername") or ()):
                transport.close()

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
    ) -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            access_log=False,
            log_config=None,
            timeout_keep_alive=idle_timeout,
            limit_concurrency=max_connections,
        )
        config.load()
        config.ssl = tls
        config.http_protocol_class = _guarded(config.http_protocol_class, on_connection)
        self.server = _EmbeddedServer(config)
        self._loop_task: asyncio.Task | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    async def start(self) -> None:
        self.server.lifespan = self.server.config.lifespan_class(self.server.config)
        await self.server.startup(sockets=[self.sock])
        self._loop_task = asyncio.create_task(self.server.main_loop())

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._loop_task is not None:
            await self._loop_task
        await self.server.shutdown(sockets=[self.sock])
