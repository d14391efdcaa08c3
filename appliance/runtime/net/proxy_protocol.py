"""PROXY protocol v2 (HAProxy): the real client address behind a trusted load balancer.

Only connections from `trusted_proxies` may send the header; from anyone else the bytes
are treated as the protocol itself (and will fail there), so a client cannot forge its
address. The parser is pure: it takes bytes and says how many it consumed.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
HEADER_LENGTH = 16
MAX_PAYLOAD = 4096


class ProxyProtocolError(ValueError):
    pass


@dataclass(frozen=True)
class ProxyHeader:
    """`source` is None for a LOCAL command (health checks from the balancer itself)."""

    source: tuple[str, int] | None
    destination: tuple[str, int] | None
    length: int  # bytes of the whole header, to skip


def needed_bytes(data: bytes) -> int:
    """How many bytes the complete header has, once the first 16 are known."""
    if len(data) < HEADER_LENGTH:
        return HEADER_LENGTH
    (payload,) = struct.unpack("!H", data[14:16])
    return HEADER_LENGTH + payload


def parse(data: bytes) -> ProxyHeader:
    """Parse a complete v2 header at the start of `data`; ProxyProtocolError if it is not one."""
    if len(data) < HEADER_LENGTH or not data.startswith(SIGNATURE):
        raise ProxyProtocolError("missing PROXY protocol v2 signature")
    version_command, family_protocol, payload = struct.unpack("!BBH", data[12:16])
    if version_command >> 4 != 2:
        raise ProxyProtocolError(f"unsupported PROXY protocol version {version_command >> 4}")
    if payload > MAX_PAYLOAD or len(data) < HEADER_LENGTH + payload:
        raise ProxyProtocolError("PROXY protocol header truncated or too long")
    total = HEADER_LENGTH + payload
    command = version_command & 0x0F
    if command == 0:  # LOCAL
        return ProxyHeader(None, None, total)
    if command != 1:
        raise ProxyProtocolError(f"unknown PROXY protocol command {command}")
    body = data[HEADER_LENGTH:total]
    family = family_protocol >> 4
    if family == 1 and len(body) >= 12:
        src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
        return ProxyHeader(
            (socket.inet_ntop(socket.AF_INET, src), sport),
            (socket.inet_ntop(socket.AF_INET, dst), dport),
            total,
        )
    if family == 2 and len(body) >= 36:
        src, dst, sport, dport = struct.unpack("!16s16sHH", body[:36])
        return ProxyHeader((_ipv6(src), sport), (_ipv6(dst), dport), total)
    if family == 0:  # UNSPEC: keep the connection's own address
        return ProxyHeader(None, None, total)
    raise ProxyProtocolError(f"unsupported PROXY protocol address family {family}")


def _ipv6(packed: bytes) -> str:
    address = ipaddress.IPv6Address(packed)
    return str(address.ipv4_mapped or address)


def build(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """A PROXY v2 header (tests and benchmarks use it to play the load balancer)."""
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    if src.version == 4:
        body = struct.pack("!4s4sHH", src.packed, dst.packed, source[1], destination[1])
        family = 0x11
    else:
        body = struct.pack("!16s16sHH", src.packed, dst.packed, source[1], destination[1])
        family = 0x21
    return SIGNATURE + struct.pack("!BBH", 0x21, family, len(body)) + body


def is_trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)
