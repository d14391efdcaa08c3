"""The real client of a freshly accepted asyncio socket: its TCP peer, or what a trusted load
balancer says in a PROXY protocol v2 header (SSH and HTTP use this; FTP has its own loop).

The header is read byte-exact, never a byte of the protocol behind it (an SSH version
string, a TLS ClientHello), so the socket can be handed on untouched.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from appliance.runtime.net import proxy_protocol

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
    """Read exactly one PROXY v2 header."""
    head = await _read_exactly(sock, proxy_protocol.HEADER_LENGTH)
    if not head.startswith(proxy_protocol.SIGNATURE):
        raise proxy_protocol.ProxyProtocolError("missing PROXY protocol v2 signature")
    total = proxy_protocol.needed_bytes(head)
    if total - proxy_protocol.HEADER_LENGTH > proxy_protocol.MAX_PAYLOAD:
        raise proxy_protocol.ProxyProtocolError("PROXY protocol header too long")
    rest = await _read_exactly(sock, total - proxy_protocol.HEADER_LENGTH)
    return proxy_protocol.parse(head + rest)


async def real_peer(
    sock: socket.socket, trusted: list[str], timeout: float = PROXY_HEADER_TIMEOUT
) -> tuple[str, int]:
    """(address, port) of the client; from a trusted proxy, the header's source (a LOCAL
    header, the balancer's own health check, keeps the balancer's address).

    Raises ProxyProtocolError when a trusted proxy sends no valid header in time.
    """
    address, port = socket_peer(sock)
    if not proxy_protocol.is_trusted(address, trusted):
        return address, port
    try:
        header = await asyncio.wait_for(read_proxy_header(sock), timeout)
    except TimeoutError:
        raise proxy_protocol.ProxyProtocolError("no PROXY protocol header in time") from None
    except OSError as error:
        raise proxy_protocol.ProxyProtocolError(str(error) or "connection lost") from None
    return header.source if header.source is not None else (address, port)
