"""The client's address: the socket peer, or a forwarded-for header sent by a trusted proxy.

`client_forwarded_header` (x-forwarded-for or forwarded) is read only when the socket peer
is in `trusted_proxies`; from anyone else the header is ignored, so a client cannot choose
the address that bans, events and source-address rules see.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Peer:
    address: str
    port: int | None


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _valid_address(text: str) -> str | None:
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def forwarded_address(header: str, value: str) -> str | None:
    """The client address the closest proxy appended (the last entry), or None."""
    if header == "x-forwarded-for":
        entries = [part for part in value.split(",") if part.strip()]
        return _valid_address(entries[-1]) if entries else None
    for element in reversed(value.split(",")):
        for pair in element.split(";"):
            name, _, item = pair.strip().partition("=")
            if name.lower() == "for":
                return _valid_address(item)
    return None


def client_peer(scope: dict, header: str | None, trusted_proxies: tuple[Network, ...]) -> Peer:
    """Who the request is from, as bans and events should see it."""
    address, port = scope.get("client") or ("", None)
    if not header or not is_trusted(address, trusted_proxies):
        return Peer(address, port)
    wanted = header.encode("latin-1")
    values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == wanted]
    forwarded = forwarded_address(header, ",".join(values)) if values else None
    return Peer(forwarded, None) if forwarded else Peer(address, port)
