"""Passive data listeners: only ports of `passive_port_range`, replies announce `passive_address`.

pyftpdlib falls back on a kernel-chosen port when the range is exhausted, which a firewall
derived from the same range would drop; here the client gets a clear 425 instead.
"""

from __future__ import annotations

import errno
import random
import socket

from pyftpdlib.handlers.ftp.dispatchers import PassiveDTP
from pyftpdlib.ioloop import Acceptor

from appliance.runtime.services.ftp.proxied import ProxyHeaderReader, behind_proxy


class NoPassivePort(OSError):
    pass


class PassiveListener(PassiveDTP):
    """Listens on one port for the data connection of one PASV/EPSV command."""

    def __init__(self, cmd_channel, extmode: bool = False) -> None:
        self.cmd_channel = cmd_channel
        self.log = cmd_channel.log
        self.log_exception = cmd_channel.log_exception
        Acceptor.__init__(self, ioloop=cmd_channel.ioloop)
        local_ip = cmd_channel.socket.getsockname()[0]
        self.create_socket(cmd_channel.socket.family, socket.SOCK_STREAM)
        self.set_reuse_addr()  # ports of a small range are often in TIME_WAIT
        try:
            self._bind_in_range(local_ip, cmd_channel.passive_ports)
        except OSError:
            self.close()
            raise
        self.listen(5)
        port = self.socket.getsockname()[1]
        cmd_channel.respond(self._reply(local_ip, port, extmode))
        if self.timeout:
            self.call_later(self.timeout, self.handle_timeout)

    def handle_accepted(self, sock: socket.socket, addr) -> None:
        """Behind a balancer, the data connection names its real client in a PROXY header;
        pyftpdlib then checks it is the session's own client, as without a balancer."""
        settings = self.cmd_channel.settings
        if not behind_proxy(addr[0], settings.trusted_proxies):
            super().handle_accepted(sock, addr)
            return

        def failed(reason: str) -> None:
            self.cmd_channel.emit(10038, channel="data", reason=reason)

        ProxyHeaderReader(
            sock,
            self.ioloop,
            done=lambda source: super(PassiveListener, self).handle_accepted(sock, source or addr),
            failed=failed,
        )

    def _bind_in_range(self, local_ip: str, ports: range | None) -> None:
        if ports is None:
            self.bind((local_ip, 0))
            return
        candidates = list(ports)
        random.shuffle(candidates)
        for port in candidates:
            try:
                self.bind((local_ip, port))
                return
            except OSError as error:
                if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise
        raise NoPassivePort(f"every port of {ports.start}-{ports.stop - 1} is in use")

    def _reply(self, local_ip: str, port: int, extmode: bool) -> str:
        if extmode:
            return f"229 Entering extended passive mode (|||{port}|)."
        announced = self.cmd_channel.passive_address or local_ip
        if announced.startswith("::ffff:"):
            announced = announced[7:]
        numbers = announced.replace(".", ",")
        return f"227 Entering passive mode ({numbers},{port // 256},{port % 256})."
