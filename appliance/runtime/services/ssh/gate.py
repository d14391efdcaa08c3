"""Who may start an SSH handshake: the real client address (PROXY v2) and the ban check.

Runs on the raw TCP socket before a single SSH byte is exchanged, so a banned address is
refused before any version string, key exchange or password check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import format_peer
from appliance.runtime.net import proxy_protocol
from appliance.runtime.services.ssh.auth import Client
from appliance.runtime.services.ssh.settings import SSHSettings

PROXY_HEADER_TIMEOUT = 10.0


def socket_peer(sock: socket.socket) -> tuple[str, int]:
    """The TCP peer, with IPv4-mapped IPv6 addresses shown as IPv4."""
    address, port = sock.getpeername()[:2]
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (str(mapped) if mapped else address), port


async def _read_exactly(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise proxy_protocol.ProxyProtocolError("the connection closed inside the header")
        data += chunk
    return data


async def read_proxy_header(sock: socket.socket) -> proxy_protocol.ProxyHeader:
    """Read exactly one PROXY v2 header, never a byte of the SSH stream behind it."""
    head = await _read_exactly(sock, proxy_protocol.HEADER_LENGTH)
    if not head.startswith(proxy_protocol.SIGNATURE):
        raise proxy_protocol.ProxyProtocolError("missing PROXY protocol v2 signature")
    total = proxy_protocol.needed_bytes(head)
    if total - proxy_protocol.HEADER_LENGTH > proxy_protocol.MAX_PAYLOAD:
        raise proxy_protocol.ProxyProtocolError("PROXY protocol header too long")
    rest = await _read_exactly(sock, total - proxy_protocol.HEADER_LENGTH)
    return proxy_protocol.parse(head + rest)


async def admit(
    sock: socket.socket, settings: SSHSettings, bus: EventBus, aaa: object
) -> Client | None:
    """The client behind `sock`, or None (with an event) when it may not go on."""
    address, port = socket_peer(sock)
    if proxy_protocol.is_trusted(address, list(settings.trusted_proxies)):
        try:
            header = await asyncio.wait_for(read_proxy_header(sock), PROXY_HEADER_TIMEOUT)
        except (proxy_protocol.ProxyProtocolError, TimeoutError, OSError) as error:
            reason = str(error) or "no PROXY protocol header in time"
            bus.emit(30006, settings.component, peer=format_peer(address, port), reason=reason)
            return None
        if header.source is not None:
            address, port = header.source
    if not aaa.connection_allowed(address, settings.component):
        return None
    return Client(address, port, settings.service_id)
