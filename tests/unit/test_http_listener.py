"""The embedded uvicorn listener keeps nothing of a connection once it is gone.

uvicorn arms a keep-alive timer (idle_connection_timeout, 300 s by default) after every
answer and cancels it only when the connection closes cleanly. A client that resets the
connection (or breaks TLS) used to leave the timer holding the protocol, its transport and
TLS buffers (256 KiB each) for the whole timeout: the RSS growth of the malformed-input
suite on HTTPS.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import struct

import pytest

from appliance.runtime.net.tls import server_context
from appliance.runtime.services.http.listener import Listener, listen_socket

CONNECTIONS = 20
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def hello(scope, receive, send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def answer_then_reset(port: int, tls: ssl.SSLContext | None) -> None:
    """One request answered (the keep-alive timer is armed), then a TCP reset."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls, server_hostname="127.0.0.1" if tls else None
    )
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert await reader.readexactly(2) == b"ok"
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST: the server's connection_lost gets ConnectionResetError


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


async def live_protocols_after_resets(tls_server, tls_client) -> tuple[int, int]:
    listener = Listener(hello, listen_socket("127.0.0.1", 0), tls=tls_server, idle_timeout=300)
    await listener.start()
    try:
        protocol_class = listener.server.config.http_protocol_class
        state = listener.server.server_state
        for _ in range(CONNECTIONS):
            await answer_then_reset(listener.address[1], tls_client)
        for _ in range(200):  # until the server has seen every reset
            if not state.connections:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # connection_lost callbacks scheduled by the transports
        assert not state.connections
        return live(protocol_class), CONNECTIONS
    finally:
        await listener.stop()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_reset_connections_are_released(scheme, key_material):
    tls_server = tls_client = None
    if scheme == "https":
        tls_server = server_context(key_material / "tls.pem")
        tls_client = ssl.create_default_context()
        tls_client.check_hostname = False
        tls_client.verify_mode = ssl.CERT_NONE
    alive, made = asyncio.run(live_protocols_after_resets(tls_server, tls_client))
    assert alive == 0, f"{alive} of {made} reset connections still held (keep-alive timers)"
