"""A partner's SFTP server as a location, with asyncssh as the client.

The host key is pinned (`host_key`): no known_hosts file, no agent, no ~/.ssh/config is
read, and any other key ends the connection before the client authenticates (event 80006).
Connections are pooled per location: at most `max_connections` at once, an idle one is
reused for `idle_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncssh

from appliance.config import Section
from appliance.runtime.transfers.host_keys import PinnedHostKey
from appliance.runtime.transfers.location import (
    Emit,
    FileInfo,
    Location,
    LocationError,
    LocationSession,
    Reader,
    Writer,
)

HOST_KEY_REFUSED = 80006
LOGIN_REFUSED = 80007


class _PinningClient(asyncssh.SSHClient):
    """Accepts exactly the pinned host key; remembers what it was shown otherwise."""

    def __init__(self, pinned: PinnedHostKey) -> None:
        self.pinned = pinned
        self.refused: str | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key) -> bool:
        if self.pinned.matches(key):
            return True
        self.refused = key.get_fingerprint("sha256")
        return False


@dataclass
class _Connection:
    ssh: asyncssh.SSHClientConnection
    sftp: asyncssh.SFTPClient
    idle_since: float = 0.0

    def close(self) -> None:
        self.sftp.exit()
        self.ssh.close()


class SftpLocation(Location):
    def __init__(self, section: Section, emit: Emit) -> None:
        super().__init__(section.id)
        self.address: str = section["address"]
        self.port: int = section["port"]
        self.username: str = section["username"]
        self.private_key = section.path("private_key")
        self.password_file = section.path("password_file")
        self.pinned = PinnedHostKey.parse(section["host_key"])
        self.connect_timeout: int = section["connect_timeout"]
        self.max_connections: int = section["max_connections"]
        self.idle_timeout: int = section["idle_timeout"]
        self.component = f"locations/{section.id}"
        self.emit = emit
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None

    @property
    def peer(self) -> str:
        return f"{self.address}:{self.port}"

    def describe(self, path: str) -> str:
        """sftp://user@host:port/absolute/path, or /~/path relative to the login folder."""
        where = path if path.startswith("/") else f"/~/{path}"
        return f"sftp://{self.username}@{self.peer}{where}"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SftpSession]:
        if self._slots is None:  # made here: it belongs to the loop that runs the transfers
            self._slots = asyncio.Semaphore(self.max_connections)
        async with self._slots:
            connection = self._take_idle() or await self._connect()
            try:
                yield SftpSession(connection.sftp)
            except BaseException:
                connection.close()
                raise
            self._keep_idle(connection)

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < self.idle_timeout and not connection.ssh.is_closed():
                return connection
            connection.close()
        return None

    def _keep_idle(self, connection: _Connection) -> None:
        if self.idle_timeout <= 0:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)
        asyncio.get_running_loop().call_later(self.idle_timeout + 0.5, self._close_expired)

    def _close_expired(self) -> None:
        now = time.monotonic()
        keep = []
        for connection in self._idle:
            if now - connection.idle_since >= self.idle_timeout:
                connection.close()
            else:
                keep.append(connection)
        self._idle = keep

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
            await connection.ssh.wait_closed()

    async def _connect(self) -> _Connection:
        client = _PinningClient(self.pinned)
        options = {
            "username": self.username,
            "known_hosts": ([], [], []),  # nothing trusted but what validate_host_public_key says
            "client_keys": [str(self.private_key)] if self.private_key else None,
            "password": self._password(),
            "agent_path": None,
            "config": None,
            "connect_timeout": self.connect_timeout,
            "login_timeout": self.connect_timeout,
        }
        if self.pinned.algorithms:
            options["server_host_key_algs"] = [name.decode() for name in self.pinned.algorithms]
        try:
            ssh, _ = await asyncssh.create_connection(
                lambda: client, self.address, self.port, **options
            )
        except asyncssh.HostKeyNotVerifiable as error:
            self.emit(
                HOST_KEY_REFUSED,
                self.component,
                peer=self.peer,
                location=self.id,
                presented=client.refused or str(error),
                expected=self.pinned.fingerprint,
            )
            raise LocationError(f"host key of {self.peer} refused") from None
        except asyncssh.PermissionDenied as error:
            self.emit(
                LOGIN_REFUSED,
                self.component,
                peer=self.peer,
                location=self.id,
                username=self.username,
                error=error.reason,
            )
            raise LocationError(f"{self.peer} refused the login of {self.username}") from None
        except (OSError, asyncssh.Error, TimeoutError) as error:
            raise LocationError(f"cannot connect to {self.peer}: {_reason(error)}") from None
        try:
            sftp = await ssh.start_sftp_client()
        except (OSError, asyncssh.Error) as error:
            ssh.close()
            raise LocationError(f"{self.peer} has no SFTP service: {_reason(error)}") from None
        return _Connection(ssh, sftp)

    def _password(self) -> str | None:
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise LocationError(f"password_file {self.password_file}: {error}") from None


def _reason(error: BaseException) -> str:
    return getattr(error, "reason", None) or str(error) or error.__class__.__name__


class SftpSession(LocationSession):
    def __init__(self, sftp: asyncssh.SFTPClient) -> None:
        self.sftp = sftp

    async def list_files(self, folder: str) -> list[FileInfo]:
        try:
            entries = await self.sftp.readdir(folder or ".")
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            raise LocationError(f"folder {folder or '.'} does not exist") from None
        return [
            FileInfo(str(entry.filename), entry.attrs.size or 0, float(entry.attrs.mtime or 0))
            for entry in entries
            if entry.attrs.permissions is not None and stat.S_ISREG(entry.attrs.permissions)
        ]

    async def size_of(self, path: str) -> int | None:
        try:
            attrs = await self.sftp.stat(path)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None
        return attrs.size

    @asynccontextmanager
    async def open_read(self, path: str) -> AsyncIterator[Reader]:
        async with self.sftp.open(path, "rb") as handle:
            yield handle

    @asynccontextmanager
    async def open_write(self, path: str) -> AsyncIterator[Writer]:
        async with self.sftp.open(path, "wb") as handle:
            yield handle

    async def rename(self, source: str, target: str) -> None:
        try:
            await self.sftp.posix_rename(source, target)
        except asyncssh.SFTPOpUnsupported:
            # Plain SFTP rename refuses to replace: remove the old file first.
            if await self.size_of(target) is not None:
                await self.sftp.remove(target)
            await self.sftp.rename(source, target)

    async def remove(self, path: str) -> None:
        await self.sftp.remove(path)

    async def make_folders(self, folder: str) -> None:
        if folder not in ("", ".", "/"):
            await self.sftp.makedirs(folder, exist_ok=True)
