"""Path-escape attempts over SFTP (raw byte paths) and SCP (`scp -f` / `scp -t` commands)."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterable

import asyncssh

from tests.security.tally import WRITE_MARKER, Leak, Tally

SFTP_OPERATIONS = (
    "read",
    "write",
    "listdir",
    "stat",
    "lstat",
    "realpath",
    "chmod",
    "utime",
    "remove",
    "mkdir",
    "rmdir",
    "rename-out",
    "rename-in",
    "symlink",
    "link",
    "readlink",
    "statvfs",
    "append",
)
SCP_OPERATIONS = ("fetch", "fetch-recursive", "send", "send-named")
TIMEOUT = 20


async def connect(port: int, user: str, password: str) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1", port, username=user, password=password, known_hosts=None,
        client_keys=None, agent_path=None,
    )  # fmt: skip


async def sftp_attempt(sftp: asyncssh.SFTPClient, operation: str, path: bytes, seen: list) -> None:
    if operation == "read":
        async with sftp.open(path, "rb") as handle:
            seen.append(await handle.read(1 << 20))
    elif operation in ("write", "append"):
        async with sftp.open(path, "wb" if operation == "write" else "ab") as handle:
            await handle.write(WRITE_MARKER)
    elif operation == "listdir":
        seen.extend(name.encode() if isinstance(name, str) else name
                    for name in await sftp.listdir(path))  # fmt: skip
    elif operation in ("stat", "lstat"):
        seen.append(repr(await getattr(sftp, operation)(path)).encode())
    elif operation == "realpath":
        seen.append(await sftp.realpath(path))
    elif operation == "chmod":
        await sftp.chmod(path, 0o777)
    elif operation == "utime":
        await sftp.utime(path, (0, 0))
    elif operation in ("remove", "mkdir", "rmdir", "readlink", "statvfs"):
        result = await getattr(sftp, operation)(path)
        seen.append(repr(result).encode())
    elif operation == "rename-out":
        async with sftp.open(b"mine.txt", "wb") as handle:
            await handle.write(WRITE_MARKER)
        await sftp.rename(b"mine.txt", path)
    elif operation == "rename-in":
        await sftp.rename(path, b"stolen.txt")
    elif operation == "symlink":
        await sftp.symlink(path, b"made-link")
    elif operation == "link":
        await sftp.link(path, b"made-hardlink")


async def sftp_run(
    port: int, user: str, password: str, paths: Iterable[bytes], leaked: Leak
) -> Tally:
    tally = Tally("sftp")
    conn = await connect(port, user, password)
    sftp = await conn.start_sftp_client()
    for index, raw in enumerate(paths):
        operation = SFTP_OPERATIONS[index % len(SFTP_OPERATIONS)]
        seen: list[bytes] = []
        tally.attempts += 1
        try:
            await asyncio.wait_for(sftp_attempt(sftp, operation, raw, seen), TIMEOUT)
            tally.accepted += 1
        except asyncssh.SFTPError as error:
            tally.refused += 1
            seen.append(str(error.reason).encode())
        except (asyncssh.Error, OSError, TimeoutError) as error:
            tally.disconnects += 1
            tally.broken.append(f"{operation} {raw!r}: {error!r}")
            conn.close()
            conn = await connect(port, user, password)
            sftp = await conn.start_sftp_client()
        for data in seen:
            tally.saw(data, leaked, f"sftp {operation} {raw!r}")
    conn.close()
    return tally


def scp_command(operation: str, path: bytes) -> tuple[str, bytes]:
    """The remote command and what the client writes to it."""
    text = shlex.quote(path.decode("utf-8", "replace"))
    if operation == "fetch":
        return f"scp -f {text}", b"\0" * 4
    if operation == "fetch-recursive":
        return f"scp -r -f {text}", b"\0" * 16
    name = "x.txt" if operation == "send" else path.rsplit(b"/", 1)[-1].decode("utf-8", "replace")
    line = f"C0644 {len(WRITE_MARKER)} {name}\n".encode()
    return f"scp -t {text}", line + WRITE_MARKER + b"\0"


async def scp_attempt(conn: asyncssh.SSHClientConnection, operation: str, path: bytes) -> bytes:
    command, sent = scp_command(operation, path)
    process = await conn.create_process(command, encoding=None)
    try:
        process.stdin.write(sent)
        process.stdin.write_eof()
    except BrokenPipeError:
        pass  # the server refused the command and closed the channel before reading
    output = await process.stdout.read()
    await process.wait_closed()
    return output


async def scp_run(
    port: int, user: str, password: str, paths: Iterable[bytes], leaked: Leak
) -> Tally:
    tally = Tally("scp")
    conn = await connect(port, user, password)
    for index, raw in enumerate(paths):
        operation = SCP_OPERATIONS[index % len(SCP_OPERATIONS)]
        tally.attempts += 1
        try:
            output = await asyncio.wait_for(scp_attempt(conn, operation, raw), TIMEOUT)
        except (asyncssh.Error, OSError, TimeoutError) as error:
            tally.disconnects += 1
            tally.broken.append(f"scp {operation} {raw!r}: {error!r}")
            conn.close()
            conn = await connect(port, user, password)
            continue
        refused = b"\x01" in output or b"\x02" in output
        tally.refused += refused
        tally.accepted += not refused
        tally.saw(output, leaked, f"scp {operation} {raw!r}")
    conn.close()
    return tally
