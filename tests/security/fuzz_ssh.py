"""SSH version-string garbage on raw sockets, and SFTP packets with bad lengths and types."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

import asyncssh

VERSIONS: tuple[bytes, ...] = (
    b"\r\n",
    b"SSH-1.0-old\r\n",
    b"SSH-1.5-old\r\n",
    b"SSH-2.0\r\n",
    b"SSH-2.0-\r\n",
    b"SSH-3.0-future\r\n",
    b"SSH-2.0-" + b"x" * 300 + b"\r\n",
    b"SSH-2.0-" + b"y" * 9000 + b"\r\n",
    b"SSH-2.0-nul\x00inside\r\n",
    b"SSH-2.0-\xff\xfe\xfd\r\n",
    b"banner line\r\n" * 2000 + b"SSH-2.0-late\r\n",
    b"z" * 1_000_000,
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"SSH-2.0-ok\r\n" + b"\x00\x00\x00\x0c\x0a\x14" + b"\x00" * 10,
    b"SSH-2.0-ok\r\n" + b"\xff\xff\xff\xff\x05\x14",
    b"SSH-2.0-ok\r\n" + b"\x00\x00\x00\x01\x00",
    b"SSH-2.0-ok\r\n" + b"\x00\x01\x00\x00\x04\x14" + b"\x00" * 65536,
)


def random_version(rng: random.Random) -> bytes:
    body = rng.randbytes(rng.randint(0, 400)).replace(b"\n", b"")
    return rng.choice((b"SSH-2.0-", b"SSH-", b"", b"SSH-2.0-ok\r\n")) + body + b"\r\n"


def version_exchange(port: int, sent: bytes, timeout: float = 5) -> tuple[bytes, bool]:
    """(what the server sent, whether it closed the connection itself within `timeout`)."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(sent)
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return bytes(received), False
        except (ConnectionResetError, BrokenPipeError):
            pass
    return bytes(received), True


# -- SFTP ---------------------------------------------------------------------------
INIT = struct.pack(">IBI", 5, 1, 3)
REPLY_TYPES = {2, 101, 102, 103, 104, 105, 201}


def packet(kind: int, payload: bytes, length: int | None = None) -> bytes:
    size = len(payload) + 1 if length is None else length
    return struct.pack(">IB", size, kind) + payload


def sftp_cases(rng: random.Random, count: int) -> list[bytes]:
    """After INIT: malformed requests; each case goes to a fresh SFTP channel."""
    fixed = [
        struct.pack(">I", 0),
        struct.pack(">I", 0xFFFFFFFF) + b"\x03",
        struct.pack(">I", 0x7FFFFFFF) + b"\x11" + b"\x00" * 100,
        packet(200, b"\x00\x00\x00\x01"),
        packet(0, b""),
        packet(1, b"\x00\x00\x00\x03"),  # a second INIT
        packet(3, b"\x00\x00\x00\x01" + b"\xff\xff\xff\xf0/etc/passwd"),  # string too long
        packet(3, b"\x00\x00\x00\x01\x00\x00\x00\x05/x"),
        packet(5, b"\x00\x00\x00\x02\x00\x00\x00\x04nope" + b"\x00" * 8 + b"\xff\xff\xff\xff"),
        packet(6, b"\x00\x00\x00\x03\x00\x00\x10\x00" + b"h" * 4096 + b"\x00" * 12),
        packet(11, b"\x00\x00\x00\x04\x00\x00\x00\x01/" + b"\xff" * 32),
        packet(17, b"\x00\x00\x00\x05\x00\x00\x00\x01/\xff\xff\xff\xff"),
        packet(200, b"\x00\x00\x00\x06\x00\x00\x00\x10unknown@example" + b"\x00" * 20),
        packet(200, b"\x00\x00\x00\x07\x00\x00\x00\x0acheck-file" + b"\x00" * 20),
        packet(20, b"\x00\x00\x00\x08\x00\x00\x00\x01/\x00\x00\x00\x01/"),
        packet(16, b"\x00\x00\x00\x09\x00\x00\x00\x00"),
        packet(3, b"\x00\x00\x00\x0a", length=3),
    ]
    while len(fixed) < count:
        kind = rng.choice((3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 200))
        payload = rng.randbytes(rng.randint(0, 300))
        length = None if rng.random() < 0.7 else rng.choice((1, 2, 7, len(payload), 1 << 20))
        fixed.append(packet(kind, payload, length))
    return fixed[:count]


def check_sftp_replies(data: bytes) -> str | None:
    """None when `data` is a sequence of well-formed SFTP reply packets."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < 5:
            return f"a truncated SFTP packet: {data[offset:]!r}"
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4]
        if kind not in REPLY_TYPES or offset + 4 + length > len(data):
            return f"not an SFTP reply (type {kind}, length {length})"
        offset += 4 + length
    return None


async def sftp_case(conn: asyncssh.SSHClientConnection, case: bytes, timeout: float) -> bytes:
    """Send INIT then `case` on a new channel; the replies until the server closes or goes
    quiet (a request waiting for more bytes is not an error)."""
    process = await conn.create_process(subsystem="sftp", encoding=None)
    process.stdin.write(INIT + case)
    received = bytearray()
    try:
        while chunk := await asyncio.wait_for(process.stdout.read(65536), timeout):
            received += chunk
    except TimeoutError:
        pass
    process.close()
    if received[4:5] != b"\x02":  # no VERSION: return it all for the checker to judge
        return bytes(received)
    (length,) = struct.unpack_from(">I", received, 0)
    return bytes(received[4 + length :])
