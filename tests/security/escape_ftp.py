"""Path-escape attempts over FTP (or implicit FTPS): every path command with hostile paths."""

from __future__ import annotations

import ftplib
import io
from collections.abc import Iterable

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.security.tally import WRITE_MARKER, Leak, Tally

OPERATIONS = (
    "RETR",
    "STOR",
    "LIST",
    "NLST",
    "MLSD",
    "MLST",
    "SIZE",
    "MDTM",
    "CWD",
    "DELE",
    "MKD",
    "RMD",
    "RNFR-out",
    "RNFR-in",
    "SITE CHMOD",
    "APPE",
)


def connect(port: int, user: str, password: str, tls: bool) -> ftplib.FTP:
    client = ImplicitFTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
    client.encoding = "latin-1"  # every byte of a path goes on the wire as it is
    client.connect("127.0.0.1", port, timeout=20)
    client.login(user, password)
    if tls:
        client.prot_p()
    client.voidcmd("TYPE I")
    return client


def wire(path: bytes) -> str:
    """The path as ftplib sends it; CR and LF cannot be in an FTP line (RFC 2640 uses NUL)."""
    return path.replace(b"\r", b"\x00").replace(b"\n", b"\x00").decode("latin-1")


def attempt(client: ftplib.FTP, operation: str, path: str, seen: list[bytes]) -> str:
    """One command; returns the final reply (ftplib raises error_perm for 5xx)."""
    if operation == "RETR":
        return client.retrbinary(f"RETR {path}", seen.append)
    if operation in ("STOR", "APPE"):
        return client.storbinary(f"{operation} {path}", io.BytesIO(WRITE_MARKER))
    if operation in ("LIST", "NLST", "MLSD"):
        return client.retrlines(f"{operation} {path}", lambda line: seen.append(line.encode()))
    if operation == "RNFR-out":
        client.storbinary("STOR mine.txt", io.BytesIO(WRITE_MARKER))
        client.sendcmd("RNFR mine.txt")
        return client.sendcmd(f"RNTO {path}")
    if operation == "RNFR-in":
        client.sendcmd(f"RNFR {path}")
        return client.sendcmd("RNTO stolen.txt")
    if operation == "SITE CHMOD":
        return client.sendcmd(f"SITE CHMOD 777 {path}")
    reply = client.sendcmd(f"{operation} {path}")
    if operation == "CWD":
        client.sendcmd("CWD /")
    return reply


def run(
    port: int, user: str, password: str, paths: Iterable[bytes], leaked: Leak, *, tls: bool = False
) -> Tally:
    tally = Tally("ftps" if tls else "ftp")
    client = connect(port, user, password, tls)
    for index, raw in enumerate(paths):
        operation = OPERATIONS[index % len(OPERATIONS)]
        seen: list[bytes] = []
        tally.attempts += 1
        try:
            reply = attempt(client, operation, wire(raw), seen)
            tally.accepted += 1
            seen.append(reply.encode("latin-1", "replace"))
        except ftplib.error_perm as error:
            tally.refused += 1
            seen.append(str(error).encode("latin-1", "replace"))
        except ftplib.error_temp as error:
            tally.refused += 1
            seen.append(str(error).encode("latin-1", "replace"))
        except (ftplib.error_proto, ftplib.error_reply) as error:
            tally.broken.append(f"{operation} {raw!r}: {error}")
        except (EOFError, OSError) as error:
            tally.disconnects += 1
            tally.broken.append(f"{operation} {raw!r}: connection lost: {error!r}")
            client = connect(port, user, password, tls)
        for data in seen:
            tally.saw(data, leaked, f"{operation} {raw!r}")
    client.close()
    return tally
