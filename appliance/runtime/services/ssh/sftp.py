"""SFTP over the virtual filesystem: asyncssh's SFTPServer whose every call goes through VirtualFS.

Paths, permissions, the home-folder jail, atomic uploads and events all live in VirtualFS;
this module only translates SFTP requests and replies. Reads and writes run on the event
loop (page-cache speed, and SFTP requests are handled one after the other, so a thread hop
per packet would cost more than it saves); calls that end with a durable event (commit,
remove, rename) or scan a folder run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncssh
from asyncssh.sftp import (
    FXF_APPEND,
    FXF_EXCL,
    FXF_TRUNC,
    FXF_WRITE,
)

from appliance.runtime.fs.errors import AlreadyExists, PermissionDenied
from appliance.runtime.fs.handles import ReadHandle, WriteHandle
from appliance.runtime.fs.vfs import FileInfo, VirtualFS
from appliance.runtime.services.ssh.errors import as_sftp_errors

BLOCK = 4096


@dataclass
class OpenFile:
    """What asyncssh holds as a file handle: a download or an upload in progress."""

    reader: ReadHandle | None = None
    writer: WriteHandle | None = None
    append: bool = False
    attributes: dict = field(default_factory=dict)
    """mtime/mode the client set on an upload; applied once the file has its final name."""


def attributes_of(info: FileInfo) -> asyncssh.SFTPAttrs:
    mtime = int(info.mtime)
    return asyncssh.SFTPAttrs(
        type=asyncssh.FILEXFER_TYPE_DIRECTORY if info.is_dir else asyncssh.FILEXFER_TYPE_REGULAR,
        size=info.size,
        uid=0,
        gid=0,
        permissions=info.mode,
        atime=mtime,
        mtime=mtime,
    )


def text_path(path: bytes) -> str:
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        raise asyncssh.SFTPInvalidFilename("paths must be UTF-8") from None


class ApplianceSFTPServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel, filesystem: VirtualFS) -> None:
        super().__init__(chan)
        self.fs = filesystem
        self.interrupted = False
        """Set when the session ends with files still open: those uploads are aborted."""

    # -- names -------------------------------------------------------------------
    def format_user(self, uid: int | None) -> str:
        return self.fs.account.name

    def format_group(self, gid: int | None) -> str:
        return self.fs.account.name

    def realpath(self, path: bytes) -> bytes:
        with as_sftp_errors():
            return self.fs.normalize(text_path(path)).encode("utf-8")

    # -- attributes -----------------------------------------------------------------
    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        with as_sftp_errors():
            return attributes_of(self.fs.stat(text_path(path)))

    lstat = stat  # the filesystem never shows symbolic links

    def fstat(self, file_obj: OpenFile) -> asyncssh.SFTPAttrs:
        if file_obj.writer is not None:
            return asyncssh.SFTPAttrs(size=file_obj.writer.tell())
        return asyncssh.SFTPAttrs.from_local(os.fstat(file_obj.reader.fileno()))

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        if attrs.size is not None:
            self._same_size(attrs.size, self.stat(path).size)
        changes = self._attribute_changes(attrs)
        if changes:
            with as_sftp_errors():
                await asyncio.to_thread(self.fs.set_attributes, text_path(path), **changes)

    lsetstat = setstat

    async def fsetstat(self, file_obj: OpenFile, attrs: asyncssh.SFTPAttrs) -> None:
        if attrs.size is not None:
            self._same_size(attrs.size, self.fstat(file_obj).size)
        changes = self._attribute_changes(attrs)
        if not changes:
            return
        if file_obj.reader is not None:
            with as_sftp_errors():
                await asyncio.to_thread(self.fs.set_attributes, file_obj.reader.path, **changes)
            return
        if not self.fs.allows("set-attributes", file_obj.writer.path):
            raise asyncssh.SFTPPermissionDenied("changing attributes is not allowed here")
        file_obj.attributes.update(changes)

    @staticmethod
    def _same_size(wanted: int, current: int) -> None:
        """Clients (OpenSSH's scp) set the size they just wrote; truncating is not offered."""
        if wanted != current:
            raise asyncssh.SFTPOpUnsupported("changing the size of a file is not supported")

    @staticmethod
    def _attribute_changes(attrs: asyncssh.SFTPAttrs) -> dict:
        changes = {}
        if attrs.mtime is not None:
            changes["mtime"] = float(attrs.mtime)
        if attrs.permissions is not None:
            changes["mode"] = stat.S_IMODE(attrs.permissions)
        return changes

    # -- files ------------------------------------------------------------------------
    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> OpenFile:
        name = text_path(path)
        with as_sftp_errors():
            if not pflags & (FXF_WRITE | FXF_APPEND):
                return OpenFile(reader=self.fs.open_read(name))
            return self._open_for_upload(name, pflags)

    def _open_for_upload(self, name: str, pflags: int) -> OpenFile:
        # Without TRUNC the client edits the file in place: start from its current bytes.
        keep = bool(pflags & FXF_APPEND) or not pflags & FXF_TRUNC
        writer = self.fs.open_write(name, append=keep)
        if pflags & FXF_EXCL and writer.final_real_path.exists():
            writer.abort("the file already exists and the client asked for a new one")
            raise AlreadyExists(writer.path, "already exists")
        return OpenFile(writer=writer, append=bool(pflags & FXF_APPEND))

    def read(self, file_obj: OpenFile, offset: int, size: int) -> bytes:
        if file_obj.reader is None:
            raise asyncssh.SFTPPermissionDenied("the file was opened for writing")
        return file_obj.reader.read_at(offset, size)

    def write(self, file_obj: OpenFile, offset: int, data: bytes) -> int:
        writer = file_obj.writer
        if writer is None:
            raise asyncssh.SFTPPermissionDenied("the file was opened for reading")
        with as_sftp_errors():
            return writer.write(data) if file_obj.append else writer.write_at(offset, data)

    async def close(self, file_obj: OpenFile) -> None:
        with as_sftp_errors():
            await asyncio.to_thread(self._finish, file_obj)

    def _finish(self, file_obj: OpenFile) -> None:
        """Commit (20050, durable) or abort an upload; end a download with 20052 or 20053."""
        reason = "the client disconnected before closing the file"
        if file_obj.reader is not None:
            file_obj.reader.close(completed=not self.interrupted, reason=reason)
            return
        if self.interrupted:
            file_obj.writer.abort(reason)
            return
        final = file_obj.writer.commit()
        if file_obj.attributes:
            # The file is stored; if this fails only its times or mode stay as they are.
            with contextlib.suppress(PermissionDenied):
                self.fs.set_attributes(final, **file_obj.attributes)

    def fsync(self, file_obj: OpenFile) -> None:
        """Nothing to do yet: an upload is fsynced when it is committed, before it gets its name."""

    # -- folders ------------------------------------------------------------------------
    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        name = text_path(path)
        with as_sftp_errors():
            entries = await asyncio.to_thread(self.fs.list, name)
            here = await asyncio.to_thread(self.fs.stat, name)
        for dot in (b".", b".."):
            yield asyncssh.SFTPName(dot, attrs=attributes_of(here))
        for info in entries:
            yield asyncssh.SFTPName(info.name.encode("utf-8"), attrs=attributes_of(info))

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        with as_sftp_errors():
            self.fs.mkdir(text_path(path))

    async def rmdir(self, path: bytes) -> None:
        with as_sftp_errors():
            await asyncio.to_thread(self.fs.rmdir, text_path(path))

    async def remove(self, path: bytes) -> None:
        with as_sftp_errors():
            await asyncio.to_thread(self.fs.remove, text_path(path))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        with as_sftp_errors():
            await asyncio.to_thread(self.fs.rename, text_path(oldpath), text_path(newpath))

    posix_rename = rename

    # -- links and the rest ----------------------------------------------------------------
    def readlink(self, path: bytes) -> bytes:
        raise asyncssh.SFTPOpUnsupported("symbolic links are not offered")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("symbolic links are not offered")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("hard links are not offered")

    def statvfs(self, path: bytes) -> asyncssh.SFTPVFSAttrs:
        with as_sftp_errors():
            self.fs.stat(text_path(path))
        usage = shutil.disk_usage(self.fs.home)
        return asyncssh.SFTPVFSAttrs(
            bsize=BLOCK,
            frsize=BLOCK,
            blocks=usage.total // BLOCK,
            bfree=usage.free // BLOCK,
            bavail=usage.free // BLOCK,
            files=0,
            ffree=0,
            favail=0,
            fsid=0,
            flags=0,
            namemax=255,
        )

    def fstatvfs(self, file_obj: OpenFile) -> asyncssh.SFTPVFSAttrs:
        return self.statvfs(b"/")

    def exit(self) -> None:
        """The session ended: report exit status 0 before the channel closes (OpenSSH 9's scp
        counts a copy as failed without one)."""
        self.channel.exit(0)
