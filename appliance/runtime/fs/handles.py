"""Open files handed to services: downloads and atomic uploads, each ending with one event."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.runtime.fs import atomic
from appliance.runtime.fs.errors import FSError

Emit = Callable[..., None]
"""emit(event_id, **data): the VirtualFS's emitter, with account, peer and component bound."""


class ReadHandle:
    """A file opened for download; `close(completed)` emits 20052 or 20053."""

    def __init__(self, virtual_path: str, real_path: Path, stream, emit: Emit) -> None:
        self.path = virtual_path
        self.real_path = real_path
        self._stream = stream
        self._emit = emit
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.bytes = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.bytes += len(data)
        return data

    def read_at(self, offset: int, size: int) -> bytes:
        """Random access read (SFTP); safe from several threads."""
        with self._lock:
            self._stream.seek(offset)
            return self.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def fileno(self) -> int:
        return self._stream.fileno()

    def close(
        self, completed: bool = True, *, bytes_sent: int | None = None, reason: str = ""
    ) -> None:
        """Close once; `bytes_sent` overrides the count when the service used sendfile."""
        if self.closed:
            return
        self.closed = True
        self._stream.close()
        sent = self.bytes if bytes_sent is None else bytes_sent
        duration = round(time.monotonic() - self._started, 3)
        if completed:
            self._emit(20052, path=self.path, bytes=sent, duration=duration)
        else:
            self._emit(
                20053,
                path=self.path,
                bytes=sent,
                duration=duration,
                reason=reason or "the transfer was interrupted",
            )

    def __enter__(self) -> ReadHandle:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(completed=kind is None, reason=str(value) if value else "")


class WriteHandle:
    """An upload in progress under a hidden temporary name; commit() or abort() ends it."""

    def __init__(
        self,
        virtual_path: str,
        final_virtual_path: str,
        final_real_path: Path,
        temporary: Path,
        stream,
        emit: Emit,
        *,
        resumable: Path,
    ) -> None:
        self.path = virtual_path
        self.final_path = final_virtual_path
        """The virtual path the file gets on commit (differs from `path` with uuid-prefix)."""
        self.final_real_path = final_real_path
        self.temporary_path = temporary
        self._stream = stream
        self._emit = emit
        self._resumable = resumable
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.bytes = 0
        self.done = False

    def write(self, data: bytes) -> int:
        with self._lock:
            self._check_open()
            written = self._stream.write(data)
        self.bytes += written
        return written

    def write_at(self, offset: int, data: bytes) -> int:
        """Random access write (SFTP clients send several writes at once); thread-safe."""
        with self._lock:
            self._check_open()
            self._stream.seek(offset)
            written = self._stream.write(data)
            self._stream.seek(0, os.SEEK_END)
        self.bytes += written
        return written

    def tell(self) -> int:
        return self._stream.tell()

    def _check_open(self) -> None:
        if self.done:
            raise FSError(self.path, "the upload is already finished")

    def commit(self) -> str:
        """Make the file visible under its final name; 20050 is durable when this returns."""
        with self._lock:
            self._check_open()
            self.done = True
            try:
                self._stream.flush()
                os.fsync(self._stream.fileno())
                self._stream.close()
                atomic.durable_replace(self.temporary_path, self.final_real_path)
            except OSError as error:
                self._stream.close()
                atomic.discard(self.temporary_path)
                self._failed(f"the file could not be stored: {error.strerror or error}")
                raise FSError(self.path, f"the file could not be stored: {error}") from error
        atomic.discard(self._resumable)
        try:
            self._emit(
                20050,
                path=self.final_path,
                real_path=str(self.final_real_path),
                bytes=self.bytes,
                duration=self._duration(),
            )
        except Exception as error:  # the audit trail is down: the client must not hear success
            raise FSError(
                self.path, f"the file was stored but its audit record failed: {error}"
            ) from error
        return self.final_path

    def abort(self, reason: str = "the transfer was interrupted", *, keep_partial: bool = False):
        """Drop the upload (or keep it hidden for a later resume); emits 20051."""
        with self._lock:
            if self.done:
                return
            self.done = True
            self._stream.close()
            if keep_partial:
                try:
                    os.replace(self.temporary_path, self._resumable)
                except OSError:
                    atomic.discard(self.temporary_path)
            else:
                atomic.discard(self.temporary_path)
        self._failed(reason)

    def _failed(self, reason: str) -> None:
        self._emit(
            20051, path=self.path, bytes=self.bytes, duration=self._duration(), reason=reason
        )

    def _duration(self) -> float:
        return round(time.monotonic() - self._started, 3)

    def __enter__(self) -> WriteHandle:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if not self.done:
            self.abort(str(value) if value else "the upload was not committed")
