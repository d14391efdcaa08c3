"""The TCP side of the SSH service: a listening socket (IPv4, IPv6 or both) and its accept loop.

Sockets are made here rather than by asyncssh so that each accepted connection can go
through the gate (limits, PROXY protocol, bans) before the SSH handshake; every accepted
socket gets TCP_NODELAY.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
BACKLOG = 128


def listening_socket(address: str, port: int) -> socket.socket:
    """A non-blocking listening socket; "::" also accepts IPv4 where the system allows it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and address == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((address, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Listener:
    def __init__(
        self, address: str, port: int, on_accept: Callable[[socket.socket], Awaitable[None]]
    ) -> None:
        self.address = address
        self.port = port
        self._on_accept = on_accept
        self._sock: socket.socket | None = None
        self._task: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()

    @property
    def listening(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2]

    async def start(self) -> None:
        self._sock = listening_socket(self.address, self.port)
        self._task = asyncio.create_task(self._accept_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for task in list(self._handlers):
            task.cancel()
        if self._sock is not None:
            self._sock.close()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(self._sock)
            except OSError as error:  # out of file descriptors and the like: breathe
                log.warning("accept on %s:%s failed: %s", self.address, self.port, error)
                await asyncio.sleep(0.1)
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = asyncio.create_task(self._on_accept(client))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
