"""Garbage where a TLS handshake belongs: random bytes, broken ClientHellos, plain protocols."""

from __future__ import annotations

import contextlib
import random
import socket
import struct


def client_hello_like(rng: random.Random) -> bytes:
    body = rng.randbytes(rng.randint(0, 600))
    length = rng.choice((len(body), 0, 1, 0xFFFF, len(body) + 100))
    record = struct.pack(">BHH", 0x16, rng.choice((0x0300, 0x0301, 0x0303, 0x0304, 0xFFFF)), length)
    return record + body


CASES: tuple[bytes, ...] = (
    b"\x00",
    b"\x16",
    b"\x16\x03\x01\xff\xff" + b"\x01" * 20,
    b"\x16\x03\x03\x00\x04\x01\xff\xff\xff",
    b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10" + b"\x07\x00\xc0" * 7,  # SSLv2 hello
    b"\x17\x03\x03\x00\x10" + b"\x00" * 16,  # application data before any handshake
    b"\x15\x03\x03\x00\x02\x02\x28",  # an alert
    b"USER alice\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"SSH-2.0-x\r\n",
    b"\x16\x03\x01" + struct.pack(">H", 16384) + b"\x01" * 16384 + b"\x16\x03\x01\x40\x00",
)


def exchange(port: int, sent: bytes, *, starttls: bool = False, timeout: float = 10) -> bytes:
    """Send garbage (after AUTH TLS when `starttls`); what came back, up to the close."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            if starttls:
                sock.recv(4096)  # the banner
                sock.sendall(b"AUTH TLS\r\n")
                reply = sock.recv(4096)
                if not reply.startswith(b"234"):
                    return b"AUTH refused: " + reply
            sock.sendall(sent)
            # ENOTCONN: the server already answered the garbage by closing.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
    return bytes(received)


def check_answer(data: bytes) -> str | None:
    """Nothing, or TLS alert records only: the handshake failed cleanly."""
    offset = 0
    while offset < len(data):
        if data[offset] != 0x15 or len(data) - offset < 5:
            return f"not a TLS alert: {data[offset : offset + 60]!r}"
        (length,) = struct.unpack_from(">H", data, offset + 3)
        offset += 5 + length
    return None
