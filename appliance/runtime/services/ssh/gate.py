"""Who may start an SSH handshake: the real client address (PROXY v2) and the ban check.

Runs on the raw TCP socket before a single SSH byte is exchanged, so a banned address is
refused before any version string, key exchange or password check.
"""

from __future__ import annotations

import socket

from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import format_peer
from appliance.runtime.net import proxy_protocol
from appliance.runtime.net.proxy_gate import real_peer, socket_peer
from appliance.runtime.services.ssh.auth import Client
from appliance.runtime.services.ssh.settings import SSHSettings


async def admit(
    sock: socket.socket, settings: SSHSettings, bus: EventBus, aaa: object
) -> Client | None:
    """The client behind `sock`, or None (with an event) when it may not go on."""
    balancer = socket_peer(sock)
    try:
        address, port = await real_peer(sock, list(settings.trusted_proxies))
    except proxy_protocol.ProxyProtocolError as error:
        bus.emit(30006, settings.component, peer=format_peer(*balancer), reason=str(error))
        return None
    if not aaa.connection_allowed(address, settings.component):
        return None
    return Client(address, port, settings.service_id)
