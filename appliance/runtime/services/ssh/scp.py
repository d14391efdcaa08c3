"""Legacy SCP (`scp -O`) over the virtual filesystem: the server as sink (upload) or source.

The protocol is lines (`T` times, `C` file, `D` folder, `E` end of folder) answered by a
status byte (0 ok, 1 error with a message, 2 fatal). An upload goes to VirtualFS's atomic
writer and is committed only once every announced byte and the client's final status
arrived; a client that disconnects mid-file leaves nothing under the final name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat

import asyncssh

from appliance.runtime.fs.errors import FSError, NotADirectory
from appliance.runtime.fs.vfs import FileInfo, VirtualFS
from appliance.runtime.services.ssh.scp_command import ScpCommand

CHUNK = 256 * 1024

log = logging.getLogger(__name__)


class ScpProtocolError(Exception):
    """The peer broke the protocol; the session ends with a fatal error."""


class ClientReportedError(Exception):
    def __init__(self, message: str, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


class ScpStream:
    """The SCP framing over the channel's stdin and stdout."""

    def __init__(self, reader: asyncssh.SSHReader, writer: asyncssh.SSHWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def line(self) -> bytes | None:
        """The next control line without its newline; None at a clean end of input."""
        data = await self.reader.readline()
        if not data:
            return None
        if not data.endswith(b"\n"):
            raise ConnectionError("the client closed the channel in the middle of a line")
        return data[:-1]

    async def ack(self) -> None:
        """Wait for the peer's status byte; ClientReportedError when it reports a failure."""
        try:
            status = await self.reader.readexactly(1)
        except asyncio.IncompleteReadError:
            raise ConnectionError("the client closed the channel") from None
        if status == b"\0":
            return
        if status in (b"\x01", b"\x02"):
            message = (await self.reader.readline()).decode("utf-8", "replace").strip()
            raise ClientReportedError(message, fatal=status == b"\x02")
        raise ScpProtocolError(f"unexpected status byte {status!r}")

    def ok(self) -> None:
        self.writer.write(b"\0")

    def error(self, message: str, *, fatal: bool = False) -> None:
        self.writer.write((b"\x02" if fatal else b"\x01") + f"scp: {message}\n".encode())

    def last_error(self, message: str) -> None:
        """The fatal error that ends the command, if the channel still takes output."""
        with contextlib.suppress(OSError, asyncssh.Error):
            self.error(message, fatal=True)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


def parse_entry(line: bytes) -> tuple[int, int, str]:
    """`C0644 12 name` or `D0755 0 name` -> (mode, size, name)."""
    try:
        mode, size, name = line[1:].decode("utf-8").split(" ", 2)
        entry = (int(mode, 8), int(size), name)
    except ValueError:
        raise ScpProtocolError(f"malformed scp line {line[:80]!r}") from None
    if entry[1] < 0 or "/" in name or name in ("", ".", ".."):
        raise ScpProtocolError(f"refused scp entry name {name!r}")
    return entry


def parse_times(line: bytes) -> float:
    """`T<mtime> 0 <atime> 0` -> mtime."""
    try:
        return float(line[1:].split(b" ")[0])
    except ValueError:
        raise ScpProtocolError(f"malformed scp times {line[:80]!r}") from None


class ScpSide:
    """What both directions share: the filesystem, the command, the stream, the error count."""

    def __init__(self, fs: VirtualFS, command: ScpCommand, stream: ScpStream) -> None:
        self.fs = fs
        self.command = command
        self.io = stream
        self.errors = 0

    def _fail(self, message: str) -> None:
        self.errors += 1
        self.io.error(message)


class ScpSink(ScpSide):
    """The server receives files (`scp -t`)."""

    async def run(self) -> int:
        target = self.fs.normalize(self.command.paths[-1])
        self.io.ok()
        await self._receive(target, into_folder=self._is_folder(target))
        return 1 if self.errors else 0

    def _is_folder(self, path: str) -> bool:
        return self.fs.real_path(path).is_dir()

    async def _receive(self, target: str, *, into_folder: bool) -> None:
        mtime: float | None = None
        while (line := await self.io.line()) is not None:
            kind = line[:1]
            if kind == b"T":
                mtime = parse_times(line)
                self.io.ok()
                continue
            if kind == b"E":
                self.io.ok()
                return
            if kind in (b"\x01", b"\x02"):
                self.errors += 1
                if kind == b"\x02":
                    return
                continue
            if kind not in (b"C", b"D"):
                raise ScpProtocolError(f"unknown scp line {line[:80]!r}")
            mode, size, name = parse_entry(line)
            path = f"{target.rstrip('/')}/{name}" if into_folder else target
            if kind == b"C":
                await self._file(path, size, mode, mtime)
            else:
                await self._folder(path, mode, mtime)
            mtime = None

    async def _folder(self, path: str, mode: int, mtime: float | None) -> None:
        if not self.command.recursive:
            raise ScpProtocolError("received a folder without -r")
        try:
            if not self.fs.real_path(path).exists():
                self.fs.mkdir(path)
            elif not self._is_folder(path):
                raise NotADirectory(path, "exists and is not a folder")
        except FSError as error:
            self._fail(str(error))
            return
        self.io.ok()
        await self._receive(path, into_folder=True)
        self._preserve(path, mtime, None)

    async def _file(self, path: str, size: int, mode: int, mtime: float | None) -> None:
        try:
            upload = self.fs.open_write(path)
        except FSError as error:
            self._fail(str(error))
            return
        self.io.ok()
        try:
            failure = await self._receive_bytes(upload, size)
            await self.io.ack()
        except ClientReportedError as error:
            upload.abort(f"the client reported: {error}")
            self.errors += 1
            return
        except BaseException as error:
            upload.abort(f"the client disconnected during the upload ({error or 'end of input'})")
            raise
        if failure is not None:
            upload.abort(failure)
            self._fail(f"{path}: {failure}")
            return
        await self._commit(upload, mode, mtime)

    async def _receive_bytes(self, upload, size: int) -> str | None:
        """Read exactly `size` bytes into the upload; a write failure is returned, not raised."""
        failure = None
        received = 0
        while received < size:
            chunk = await self.io.reader.read(min(CHUNK, size - received))
            if not chunk:
                raise ConnectionError("the client closed the channel")
            received += len(chunk)
            if failure is None:
                try:
                    upload.write(chunk)
                except (OSError, FSError) as error:
                    failure = str(error)
        return failure

    async def _commit(self, upload, mode: int, mtime: float | None) -> None:
        try:
            final = await asyncio.to_thread(upload.commit)
        except FSError as error:
            self._fail(str(error))
            return
        self._preserve(final, mtime, mode)
        self.io.ok()

    def _preserve(self, path: str, mtime: float | None, mode: int | None) -> None:
        """With -p, keep the client's times (and mode) where the account may set them."""
        if not self.command.preserve or not self.fs.allows("set-attributes", path):
            return
        # The data is stored; if this fails only its times stay as they are.
        with contextlib.suppress(FSError, OSError):
            self.fs.set_attributes(path, mtime=mtime, mode=mode)


class ScpSource(ScpSide):
    """The server sends files (`scp -f`)."""

    async def run(self) -> int:
        await self.io.ack()
        for path in self.command.paths:
            await self._send(path)
        return 1 if self.errors else 0

    async def _send(self, path: str) -> None:
        try:
            info = self.fs.stat(path)
        except FSError as error:
            self._fail(str(error))
            return
        if not info.is_dir:
            await self._send_file(info)
        elif self.command.recursive:
            await self._send_folder(info)
        else:
            self._fail(f"{info.path}: is a folder; use -r")

    async def _send_times(self, info: FileInfo) -> None:
        if self.command.preserve:
            mtime = int(info.mtime)
            await self.io.send(f"T{mtime} 0 {mtime} 0\n".encode())
            await self.io.ack()

    async def _send_folder(self, info: FileInfo) -> None:
        try:
            entries = await asyncio.to_thread(self.fs.list, info.path)
        except FSError as error:
            self._fail(str(error))
            return
        await self._send_times(info)
        await self.io.send(f"D{stat.S_IMODE(info.mode):04o} 0 {info.name}\n".encode())
        await self.io.ack()
        for entry in entries:
            await self._send(entry.path)
        await self.io.send(b"E\n")
        await self.io.ack()

    async def _send_file(self, info: FileInfo) -> None:
        try:
            download = self.fs.open_read(info.path)
        except FSError as error:
            self._fail(str(error))
            return
        completed, reason = False, "the client disconnected during the download"
        try:
            await self._send_times(info)
            await self.io.send(f"C{stat.S_IMODE(info.mode):04o} {info.size} {info.name}\n".encode())
            await self.io.ack()
            complete = await self._send_bytes(download, info.size)
            await self.io.ack()
            completed, reason = complete, "the file changed size during the download"
        except ClientReportedError as error:
            self.errors += 1
            reason = f"the client reported: {error}"
        finally:
            await asyncio.to_thread(download.close, completed, reason=reason)

    async def _send_bytes(self, download, size: int) -> bool:
        sent = 0
        while sent < size:
            chunk = download.read(min(CHUNK, size - sent))
            if not chunk:
                break
            await self.io.send(chunk)
            sent += len(chunk)
        if sent < size:  # the file shrank while we sent it: pad, then say so
            await self.io.send(b"\0" * (size - sent))
            self._fail(f"{download.path}: the file changed size during the download")
            return False
        self.io.ok()
        return True


async def run_scp(
    fs: VirtualFS, command: ScpCommand, reader: asyncssh.SSHReader, writer: asyncssh.SSHWriter
) -> int:
    """Serve one scp command; returns the exit status for the client.

    Every failure ends this command only, with a fatal scp error on its channel (when the
    channel still takes output) and exit status 1: protocol errors, refused paths, a client
    that closes its side before the command is over, and any unexpected error (logged). An
    exception escaping the channel's task would make asyncssh close the whole SSH connection.
    """
    stream = ScpStream(reader, writer)
    handler = ScpSink(fs, command, stream) if command.upload else ScpSource(fs, command, stream)
    try:
        return await handler.run()
    except (ScpProtocolError, FSError) as error:
        stream.last_error(str(error))
    except ConnectionError as error:  # BrokenPipeError too: the client closed the channel
        stream.last_error(f"the client closed the channel before the end of the command ({error})")
    except asyncssh.Error as error:
        stream.last_error(f"the channel failed: {error}")
    except Exception:
        log.exception("scp command %s failed", "upload" if command.upload else "download")
        stream.last_error("internal error; the command was stopped")
    return 1
