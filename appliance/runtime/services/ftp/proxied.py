"""PROXY protocol v2 on FTP sockets: the real client behind a trusted load balancer.

Control connections and passive data connections from `trusted_proxies` start with a PROXY
v2 header. It is read here, inside pyftpdlib's loop and without blocking it, byte-exact (an
implicit FTPS ClientHello may follow at once), before the socket is handed to the session
or data channel. Data connections carry the header too, so the check that a data connection
comes from the session's own client still holds behind the balancer.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from pyftpdlib.ioloop import AsyncChat

from appliance.runtime.net import proxy_protocol

PROXY_HEADER_TIMEOUT = 10.0

Peer = tuple[str, int]


class ProxyHeaderReader(AsyncChat):
    """Reads one header from `sock`, then calls `done(source)` (None for a LOCAL header, the
    balancer's health check) or `failed(reason)`; the socket is handed back untouched."""

    def __init__(
        self,
        sock: socket.socket,
        ioloop,
        done: Callable[[Peer | None], None],
        failed: Callable[[str], None],
    ) -> None:
        self._data = b""
        self._done = done
        self._failed = failed
        self._finished = False
        super().__init__(sock, ioloop=ioloop)
        self._timer = self.ioloop.call_later(PROXY_HEADER_TIMEOUT, self._fail, "no header in time")

    def readable(self) -> bool:
        return not self._finished

    def writable(self) -> bool:
        return False

    def handle_read_event(self) -> None:
        wanted = proxy_protocol.needed_bytes(self._data) - len(self._data)
        if len(self._data) < proxy_protocol.HEADER_LENGTH:
            wanted = proxy_protocol.HEADER_LENGTH - len(self._data)
        try:
            chunk = self.socket.recv(wanted)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(str(error) or "connection lost")
            return
        if not chunk:
            self._fail("the connection closed inside the header")
            return
        self._data += chunk
        if len(self._data) < proxy_protocol.HEADER_LENGTH:
            return
        if not self._data.startswith(proxy_protocol.SIGNATURE):
            self._fail("missing PROXY protocol v2 signature")
            return
        if proxy_protocol.needed_bytes(self._data) - proxy_protocol.HEADER_LENGTH > (
            proxy_protocol.MAX_PAYLOAD
        ):
            self._fail("PROXY protocol header too long")
            return
        if len(self._data) < proxy_protocol.needed_bytes(self._data):
            return
        try:
            header = proxy_protocol.parse(self._data)
        except proxy_protocol.ProxyProtocolError as error:
            self._fail(str(error))
            return
        self._finish()
        self._done(header.source)

    def handle_close(self) -> None:
        self._fail("the connection closed inside the header")

    def handle_error(self) -> None:
        self._fail("error while reading the header")

    def _finish(self) -> None:
        self._finished = True
        with contextlib.suppress(Exception):
            self._timer.cancel()
        self.del_channel()  # unregister only: the socket goes on to its handler

    def _fail(self, reason: str) -> None:
        if self._finished:
            return
        self._finish()
        with contextlib.suppress(OSError):
            self.socket.close()
        self._failed(reason)


def behind_proxy(address: str, trusted: tuple[str, ...]) -> bool:
    return bool(trusted) and proxy_protocol.is_trusted(address, list(trusted))
