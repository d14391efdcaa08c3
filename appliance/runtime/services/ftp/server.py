"""The listening side of one service: ban check and session limit before a session starts."""

from __future__ import annotations

import socket

from pyftpdlib.servers import FTPServer

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
        super().__init__(sock, handler, ioloop=ioloop, backlog=128)

    def handle_accepted(self, sock: socket.socket, addr) -> None:
        peer = plain_address(addr[0])
        component = self.settings.component
        if not self.context.aaa.connection_allowed(peer, component):
            sock.close()
            return
        if len(self.ip_map) >= self.settings.maximum_connections:
            self._refuse_over_limit(sock, peer)
            return
        return super().handle_accepted(sock, addr)

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
