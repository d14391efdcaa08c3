"""pyftpdlib's AbstractedFS onto the session's VirtualFS: every path and operation goes there.

pyftpdlib calls "fs paths" what it hands to these methods; here they are the normalized
virtual paths themselves ("/Inbox/a.csv"). The VirtualFS does the jail, the permissions and
the events; this adapter only translates its errors into pyftpdlib's FilesystemError, whose
text becomes the 550 reply.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
from collections.abc import Iterator

from pyftpdlib.exceptions import FilesystemError
from pyftpdlib.filesystems import AbstractedFS

from appliance.runtime.fs import FileInfo, FSError, InvalidPath, VirtualFS
from appliance.runtime.services.ftp.files import DownloadFile, UploadFile


class RefusedPath(str):
    """A client path the VirtualFS refused; `validpath` turns it into a 550 reply."""


def reply_text(error: FSError) -> str:
    return f"{error.path}: {error.message}"


@contextlib.contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except FSError as error:
        raise FilesystemError(reply_text(error)) from error


def stat_result(info: FileInfo) -> os.stat_result:
    default = stat_module.S_IFDIR | 0o755 if info.is_dir else stat_module.S_IFREG | 0o644
    mode = info.mode or default
    return os.stat_result((mode, 0, 0, 1, 0, 0, info.size, info.mtime, info.mtime, info.mtime))


class VirtualFSAdapter(AbstractedFS):
    """One per logged-in session; `cmd_channel.vfs` is the session's VirtualFS."""

    def __init__(self, root: str, cmd_channel) -> None:
        super().__init__("/", cmd_channel)
        self.vfs: VirtualFS = cmd_channel.vfs

    # -- paths ------------------------------------------------------------
    def ftpnorm(self, ftppath: str) -> str:
        return self.vfs.normalize(ftppath, self.cwd)

    def ftp2fs(self, ftppath: str) -> str:
        try:
            return self.vfs.normalize(ftppath, self.cwd)
        except InvalidPath as error:
            return RefusedPath(error.path)

    def fs2ftp(self, fspath: str) -> str:
        return str(fspath)

    def validpath(self, path: str) -> bool:
        return not isinstance(path, RefusedPath)

    def realpath(self, path: str) -> str:
        return path

    # -- reading ----------------------------------------------------------
    def info(self, path: str) -> FileInfo:
        with translated():
            return self.vfs.stat(path)

    def stat(self, path: str) -> os.stat_result:
        return stat_result(self.info(path))

    lstat = stat

    def listdir(self, path: str) -> list[str]:
        return [info.name for info in self.list_infos(path)]

    def list_infos(self, path: str) -> list[FileInfo]:
        with translated():
            return self.vfs.list(path)

    def _quiet_info(self, path: str) -> FileInfo | None:
        try:
            return self.vfs.stat(path)
        except FSError:
            return None

    def isfile(self, path: str) -> bool:
        info = self._quiet_info(path)
        return info is not None and not info.is_dir

    def isdir(self, path: str) -> bool:
        info = self._quiet_info(path)
        return info is not None and info.is_dir

    def islink(self, path: str) -> bool:
        return False

    def lexists(self, path: str) -> bool:
        return self._quiet_info(path) is not None

    def getsize(self, path: str) -> int:
        return self.info(path).size

    def getmtime(self, path: str) -> float:
        return self.info(path).mtime

    def chdir(self, path: str) -> None:
        if not self.info(path).is_dir:
            raise FilesystemError(f"{path}: not a folder")
        self.cwd = path

    def open(self, filename: str, mode: str):
        with translated():
            if "r" in mode and "+" not in mode:
                return DownloadFile(self.vfs.open_read(filename))
            return UploadFile(self.vfs.open_write(filename, append="a" in mode))

    def resumable_size(self, path: str) -> int:
        """Bytes kept from an interrupted upload of `path` (0 when none or not writable)."""
        try:
            return self.vfs.resumable_size(path)
        except FSError:
            return 0

    # -- changing ---------------------------------------------------------
    def mkdir(self, path: str) -> None:
        with translated():
            self.vfs.mkdir(path)

    def rmdir(self, path: str) -> None:
        with translated():
            self.vfs.rmdir(path)

    def remove(self, path: str) -> None:
        with translated():
            self.vfs.remove(path)

    def rename(self, src: str, dst: str) -> None:
        with translated():
            self.vfs.rename(src, dst)

    def chmod(self, path: str, mode: int) -> None:
        with translated():
            self.vfs.set_attributes(path, mode=mode)

    def utime(self, path: str, timeval: float) -> None:
        with translated():
            self.vfs.set_attributes(path, mtime=timeval)

    def mkstemp(self, suffix="", prefix="", dir=None, mode="wb"):
        raise FilesystemError("STOU goes through the session handler")
