"""A partner's FTPS server (or, opted in, plain FTP) as a location, with ftplib as the client.

ftplib blocks, so every command runs in a worker thread (`asyncio.to_thread`): the engine's
loop never waits on the network. TLS is 1.2 or later, the server certificate is verified
against `ca_certificate` (default: the system's trust store) and its host name checked; a
refused certificate is event 80009 and nothing is sent. Explicit TLS (`AUTH TLS` on the
control connection) or implicit TLS (TLS from the first byte); data connections are
protected (`PROT P`) and passive. A session is one logged-in connection, at most
`max_connections` at once per location; it is closed when the session ends.
"""

from __future__ import annotations

import asyncio
import calendar
import ftplib
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from appliance.config import Section
from appliance.runtime.transfers.location import (
    Emit,
    FileInfo,
    LocationError,
    LocationSession,
    Reader,
    RemoteLocation,
    Writer,
)
from appliance.runtime.transfers.sftp import LOGIN_REFUSED

TLS_REFUSED = 80009
MLSD_UNKNOWN = ("500", "501", "502", "504")
"""Replies of a server without MLSD (vsftpd): list with NLST instead."""


class _Ftps(ftplib.FTP_TLS):
    """FTP_TLS with implicit TLS as an option and TLS session reuse on data connections."""

    def __init__(self, context: ssl.SSLContext, implicit: bool, timeout: float) -> None:
        super().__init__(context=context, timeout=timeout)
        self.implicit = implicit

    def connect(self, host: str = "", port: int = 0, timeout: float = -999, source_address=None):
        if not self.implicit:
            return super().connect(host, port, timeout)
        self.host, self.port = host, port
        raw = socket.create_connection((host, port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd: str, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - TLS-wrapped below
        if self._prot_p:
            session = getattr(self.sock, "session", None)
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def tls_context(ca_certificate: Path | None, client_certificate: Path | None) -> ssl.SSLContext:
    """TLS 1.2+, certificate and host name verified, against the CA file or the system store."""
    context = ssl.create_default_context(
        cafile=str(ca_certificate) if ca_certificate is not None else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_certificate is not None:
        context.load_cert_chain(str(client_certificate))
    return context


class FtpsLocation(RemoteLocation):
    def __init__(self, section: Section, emit: Emit) -> None:
        super().__init__(section, emit)
        self.plaintext = section.type == "ftp"
        self.scheme = section.type
        self.implicit = not self.plaintext and section["tls_mode"] == "implicit"
        self.ca_certificate = None if self.plaintext else section.path("ca_certificate")
        self.client_certificate = None if self.plaintext else section.path("client_certificate")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[FtpsSession]:
        async with self.slots():
            ftp = await asyncio.to_thread(self._connect)
            try:
                yield FtpsSession(ftp)
            finally:
                await asyncio.to_thread(_quit, ftp)

    def _connect(self) -> ftplib.FTP:
        """In a worker thread: connect, secure, log in, binary mode."""
        password = self.password()
        if self.plaintext:
            ftp: ftplib.FTP = ftplib.FTP(timeout=self.connect_timeout)  # noqa: S321 - opted in
        else:
            try:
                context = tls_context(self.ca_certificate, self.client_certificate)
            except (OSError, ssl.SSLError) as error:
                raise LocationError(f"TLS settings of {self.component}: {error}") from None
            ftp = _Ftps(context, self.implicit, self.connect_timeout)
        try:
            ftp.connect(self.address, self.port)
            if isinstance(ftp, _Ftps) and not self.implicit:
                ftp.auth()
        except ssl.SSLCertVerificationError as error:
            _close(ftp)
            self.emit(
                TLS_REFUSED,
                self.component,
                peer=self.peer,
                location=self.id,
                error=error.verify_message or str(error),
            )
            raise LocationError(f"TLS certificate of {self.peer} refused: {error}") from None
        except (OSError, EOFError, ftplib.Error) as error:
            _close(ftp)
            raise LocationError(f"cannot connect to {self.peer}: {error}") from None
        try:
            ftp.login(self.username, password)
        except ftplib.error_perm as error:
            _close(ftp)
            self.emit(
                LOGIN_REFUSED,
                self.component,
                peer=self.peer,
                location=self.id,
                username=self.username,
                error=str(error),
            )
            raise LocationError(f"{self.peer} refused the login of {self.username}") from None
        except (OSError, EOFError, ftplib.Error) as error:
            _close(ftp)
            raise LocationError(f"cannot log in to {self.peer}: {error}") from None
        try:
            if isinstance(ftp, _Ftps):
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
        except (OSError, EOFError, ftplib.Error) as error:
            _close(ftp)
            raise LocationError(
                f"{self.peer} refused protected binary transfers: {error}"
            ) from None
        return ftp


def _quit(ftp: ftplib.FTP) -> None:
    try:
        ftp.quit()
    except (OSError, EOFError, ftplib.Error):
        _close(ftp)


def _close(ftp: ftplib.FTP) -> None:
    with suppress(OSError):
        ftp.close()


class _DataReader(Reader):
    def __init__(self, stream) -> None:
        self.stream = stream

    async def read(self, size: int) -> bytes:
        return await asyncio.to_thread(self.stream.read, size)


class _DataWriter(Writer):
    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.connection.sendall, data)


def _mlsd_mtime(value: str | None) -> float:
    """MLSD's `modify` fact or MDTM's reply (YYYYMMDDHHMMSS[.fff], UTC) as a timestamp; 0
    when absent."""
    if not value:
        return 0.0
    try:
        return float(calendar.timegm(time.strptime(value[:14], "%Y%m%d%H%M%S")))
    except ValueError:
        return 0.0


class FtpsSession(LocationSession):
    """One logged-in connection; each call runs in a worker thread, one at a time."""

    def __init__(self, ftp: ftplib.FTP) -> None:
        self.ftp = ftp
        self.known_folders: set[str] = set()

    async def _call(self, function, *args):
        try:
            return await asyncio.to_thread(function, *args)
        except (EOFError, ftplib.Error) as error:
            raise LocationError(f"FTP: {error}") from None

    async def list_files(self, folder: str) -> list[FileInfo]:
        return await self._call(self._list_files, folder or ".")

    def _list_files(self, folder: str) -> list[FileInfo]:
        try:
            entries = list(self.ftp.mlsd(folder))
        except ftplib.error_perm as error:
            if not str(error).startswith(MLSD_UNKNOWN):
                raise LocationError(f"folder {folder} cannot be listed: {error}") from None
            return self._list_files_without_mlsd(folder)
        return [
            FileInfo(name, int(facts.get("size") or 0), _mlsd_mtime(facts.get("modify")))
            for name, facts in entries
            if facts.get("type") == "file"
        ]

    def _list_files_without_mlsd(self, folder: str) -> list[FileInfo]:
        """NLST, then SIZE and MDTM for each name (folders have no SIZE and are left out)."""
        try:
            names = self.ftp.nlst(folder)
        except ftplib.error_perm as error:
            raise LocationError(f"folder {folder} cannot be listed: {error}") from None
        found = []
        for name in names:
            base = name.rstrip("/").rsplit("/", 1)[-1]
            path = f"{folder.rstrip('/')}/{base}"
            size = self._size_of(path)
            if size is not None:
                found.append(FileInfo(base, size, self._modified(path)))
        return found

    def _modified(self, path: str) -> float:
        """MDTM's time (UTC) as a timestamp; 0 when the server has none to give."""
        try:
            reply = self.ftp.sendcmd(f"MDTM {path}")
        except ftplib.error_perm:
            return 0.0
        return _mlsd_mtime(reply[4:].strip())

    async def size_of(self, path: str) -> int | None:
        return await self._call(self._size_of, path)

    def _size_of(self, path: str) -> int | None:
        try:
            return self.ftp.size(path)
        except ftplib.error_perm:
            return None

    @asynccontextmanager
    async def open_read(self, path: str) -> AsyncIterator[Reader]:
        connection = await self._call(self.ftp.transfercmd, f"RETR {path}")
        stream = connection.makefile("rb")
        try:
            yield _DataReader(stream)
        except BaseException:
            stream.close()  # mid-transfer: drop the data connection, not wait for its end
            await asyncio.to_thread(_abandon, connection)
            raise
        stream.close()
        await self._end_transfer(connection)

    @asynccontextmanager
    async def open_write(self, path: str) -> AsyncIterator[Writer]:
        connection = await self._call(self.ftp.transfercmd, f"STOR {path}")
        try:
            yield _DataWriter(connection)
        except BaseException:
            await asyncio.to_thread(_abandon, connection)
            raise
        await self._end_transfer(connection)

    async def _end_transfer(self, connection: socket.socket) -> None:
        """Close the data connection (TLS close_notify first) and read the server's verdict."""

        def end() -> None:
            if isinstance(connection, ssl.SSLSocket):
                with suppress(OSError, ssl.SSLError):
                    connection.unwrap()
            connection.close()
            self.ftp.voidresp()

        await self._call(end)

    async def rename(self, source: str, target: str) -> None:
        await self._call(self._rename, source, target)

    def _rename(self, source: str, target: str) -> None:
        try:
            self.ftp.rename(source, target)
        except ftplib.error_perm:
            # Servers whose RNTO refuses to replace: remove the old file first.
            if self._size_of(target) is None:
                raise
            self.ftp.delete(target)
            self.ftp.rename(source, target)

    async def remove(self, path: str) -> None:
        await self._call(self.ftp.delete, path)

    async def make_folders(self, folder: str) -> None:
        if folder in ("", ".", "/") or folder in self.known_folders:
            return
        await self._call(self._make_folders, folder)
        self.known_folders.add(folder)

    def _make_folders(self, folder: str) -> None:
        parts = [part for part in folder.split("/") if part]
        prefix = "/" if folder.startswith("/") else ""
        for index in range(len(parts)):
            # there already, or not ours to make: the upload that follows says so
            with suppress(ftplib.error_perm):
                self.ftp.mkd(prefix + "/".join(parts[: index + 1]))


def _abandon(connection: socket.socket) -> None:
    with suppress(OSError):
        connection.close()
