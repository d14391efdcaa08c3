"""VirtualFS handles dressed as the file objects pyftpdlib's data channel expects.

pyftpdlib closes file objects in many places (QUIT, lost connection, ABOR) with a bare
`close()`; here a bare close means "interrupted". Only the data channel, which knows the
transfer finished, calls `finish(completed=True)` (download) or `commit()` (upload).
"""

from __future__ import annotations

import os

from appliance.runtime.fs import ReadHandle, WriteHandle

INTERRUPTED = "the transfer was interrupted"


class DownloadFile:
    """A ReadHandle for RETR: read/seek/tell for the producer, fileno for sendfile."""

    def __init__(self, handle: ReadHandle) -> None:
        self.handle = handle
        self.name = handle.path
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        return self.handle.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def fileno(self) -> int:
        return self.handle.fileno()

    def finish(self, completed: bool, bytes_sent: int, reason: str = "") -> None:
        """Close once with the outcome; emits 20052 or 20053 with the bytes sent."""
        if self.closed:
            return
        self.closed = True
        self.handle.close(completed, bytes_sent=bytes_sent, reason=reason or INTERRUPTED)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.handle.close(False, reason=INTERRUPTED)


class UploadFile:
    """A WriteHandle for STOR/APPE/STOU: nothing is visible under the final name before commit."""

    def __init__(self, handle: WriteHandle) -> None:
        self.handle = handle
        self.name = handle.path
        self.closed = False

    def write(self, data: bytes) -> int:
        return self.handle.write(data)

    def commit(self) -> str:
        """Rename into place; returns when event 20050 is durable (FSError on failure)."""
        self.closed = True
        return self.handle.commit()

    def abort(self, reason: str = INTERRUPTED) -> None:
        """Drop the upload; what arrived is kept hidden so that REST/APPE can resume it."""
        self.closed = True
        self.handle.abort(reason, keep_partial=True)

    def close(self) -> None:
        if not self.closed:
            self.abort()
