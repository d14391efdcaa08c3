"""Random and mutated FTP command lines on real sockets, and a strict reader of the replies."""

from __future__ import annotations

import random
import re
import socket

SEEDS = (
    b"USER alice",
    b"PASS alice-pw-123",
    b"PASV",
    b"EPSV",
    b"EPSV ALL",
    b"PORT 127,0,0,1,4,1",
    b"PORT 999,999,999,999,999,999",
    b"EPRT |1|127.0.0.1|1025|",
    b"EPRT |2|::1|1025|",
    b"REST 100",
    b"REST -1",
    b"TYPE I",
    b"TYPE L 8",
    b"MODE Z",
    b"STRU R",
    b"SITE CHMOD 777 x",
    b"SITE HELP",
    b"OPTS UTF8 ON",
    b"OPTS MLST type;size;",
    b"FEAT",
    b"HELP",
    b"HELP SITE",
    b"PBSZ 0",
    b"PROT P",
    b"MLST /",
    b"MLSD",
    b"LIST -la",
    b"NLST *",
    b"ALLO 10 R 5",
    b"ABOR",
    b"STAT",
    b"STAT /",
    b"NOOP",
    b"CWD /",
    b"CDUP",
    b"PWD",
    b"SIZE x",
    b"MDTM 20200101000000 x",
    b"RNFR x",
    b"RNTO y",
    b"STOU",
    b"SYST",
    b"REIN",
    b"ACCT x",
    b"SMNT /",
    b"XMKD a",
    b"XRMD a",
    b"XPWD",
    b"XCWD /",
)
GARBAGE = (b"\xff\xf4\xff\xf2", b"\x00", b"\r", b"\xc0\xae", b"%s%n%x", b"\x1b[2J", b"\xff" * 8)
# A reply line: three digits then space or hyphen; multi-line replies carry free text between.
_FIRST = re.compile(rb"^[1-5]\d\d[ -]")


def mutate(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randint(0, len(data))
        if choice < 0.3 and data:
            data[min(position, len(data) - 1)] = rng.randint(0, 255)
        elif choice < 0.5:
            data[position:position] = rng.choice(GARBAGE)
        elif choice < 0.65:
            del data[position:]
        elif choice < 0.8:
            data += b" " + bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 64)))
        elif choice < 0.9:
            data += b"A" * rng.choice((300, 2048, 10_000, 70_000))
        else:
            data = bytearray(rng.randbytes(rng.randint(0, 200)))
    return bytes(data).replace(b"\n", b" ")


def burst(rng: random.Random, size: int, *, log_in: bool) -> list[bytes]:
    lines = [b"USER alice", b"PASS alice-pw-123"] if log_in else []
    for _ in range(size):
        seed = rng.choice(SEEDS)
        lines.append(seed if rng.random() < 0.2 else mutate(rng, seed))
    return [line for line in lines if not line.upper().startswith(b"AUTH")]


def check_replies(data: bytes) -> list[str]:
    """Problems with a stream of FTP replies (empty: every line is a proper reply)."""
    problems = []
    open_code: bytes | None = None
    for line in data.split(b"\r\n"):
        if not line:
            continue
        if open_code is not None:
            if line.startswith(open_code + b" "):
                open_code = None
            continue
        if not _FIRST.match(line):
            problems.append(f"not an FTP reply: {line[:120]!r}")
            continue
        if line[3:4] == b"-":
            open_code = line[:3]
    return problems


def exchange(port: int, lines: list[bytes], timeout: float = 15) -> bytes:
    """Send the lines then QUIT; everything the server sent until it closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        received = bytearray()
        try:
            for line in [*lines, b"QUIT"]:
                sock.sendall(line + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server hung up (after a reply): read what it said
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        return bytes(received)
