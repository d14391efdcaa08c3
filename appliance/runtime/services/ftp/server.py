"""The listening side of one service: PROXY header, ban check and session limit before a
session starts."""

from __future__ import annotations

import socket

from pyftpdlib.servers import FTPServer

from appliance.runtime.events.event import format_peer
from appliance.runtime.services.ftp.proxied import ProxyHeaderReader, behind_proxy
from appliance.runtime.services.ftp.settings import FTPSettings

TOO_MANY = b"421 Too many sessions on this service; try again later.\r\n"


def listening_socket(address: str, port: int, backlog: int = 128) -> socket.socket:
    """A TCP listener; "::" takes IPv6 and IPv4 (dual stack) where the system allows it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    dual = address == "::" and socket.has_dualstack_ipv6()
    sock = socket.create_server(
        (address, port), family=family, backlog=backlog, dualstack_ipv6=dual
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def plain_address(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") else address


class SessionServer(FTPServer):
    """Accepts control connections for one service; pyftpdlib's fd count limit is off."""

    max_cons = 0

    def __init__(self, sock: socket.socket, handler: type, ioloop, settings: FTPSettings) -> None:
        self.settings = settings
        self.context = handler.context
        self.proxied: dict[int, tuple[str, int]] = {}
        """Real clients of sockets a balancer passed on, by file descriptor, until the
        session takes its own (pyftpdlib's handler reads the TCP peer)."""
        super().__init__(sock, handler, ioloop=ioloop, backlog=128)

    def handle_accepted(self, sock: socket.socket, addr) -> None:
        peer = (plain_address(addr[0]), addr[1])
        if not behind_proxy(peer[0], self.settings.trusted_proxies):
            self._admit(sock, addr, proxied=False)
            return
        ProxyHeaderReader(
            sock,
            self.ioloop,
            done=lambda source: self._admit(sock, source or peer, proxied=True),
            failed=lambda reason: self.context.bus.emit(
                10038,
                self.settings.component,
                peer=format_peer(*peer),
                channel="control",
                reason=reason,
            ),
        )

    def _admit(self, sock: socket.socket, peer: tuple[str, int], *, proxied: bool) -> None:
        """`peer` as the session will see it: pyftpdlib counts sessions by that address."""
        component = self.settings.component
        address = plain_address(peer[0])
        if not self.context.aaa.connection_allowed(address, component):
            sock.close()
            return
        if len(self.ip_map) >= self.settings.maximum_connections:
            self._refuse_over_limit(sock, address)
            return
        if proxied:
            self.proxied[sock.fileno()] = peer
        try:
            super().handle_accepted(sock, peer)
        finally:
            self.proxied.pop(sock.fileno(), None)

    def _refuse_over_limit(self, sock: socket.socket, peer: str) -> None:
        self.context.bus.emit(
            20026,
            self.settings.component,
            peer=peer,
            service=self.settings.service_id,
            limit=self.settings.maximum_connections,
        )
        try:
            sock.setblocking(False)
            sock.send(TOO_MANY)
        except OSError:
            pass
        sock.close()
