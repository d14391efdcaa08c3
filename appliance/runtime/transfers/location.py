"""What a transfer needs of a place that holds files, whatever the protocol.

A `Location` hands out sessions (`async with location.session() as files`); a session
lists, stats, reads, writes, renames and removes files by POSIX-style paths relative to the
location's root. `local` and `sftp` implement it; an `ftps` or `https` location would be one
more module with these methods and an entry in `build_location`.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from appliance.runtime.fs.jail import RESERVED_PREFIX

Emit = Callable[..., object]
"""bus.emit(event_id, component, **data), or a stand-in."""


class LocationError(OSError):
    """The location cannot be reached or refused us; the attempt may be retried."""


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    mtime: float


class Reader(Protocol):
    async def read(self, size: int) -> bytes: ...


class Writer(Protocol):
    async def write(self, data: bytes) -> None: ...


TEMPORARY_PREFIX = ".transfer-"
"""Of the hidden names files are sent under before the rename (`.~` would be refused by a
peer that is another appliance: its own uploads' prefix is reserved there)."""


def is_temporary(name: str) -> bool:
    """A name never to send: a transfer's temporary file, or an upload's (`.~`) here."""
    return name.startswith((TEMPORARY_PREFIX, RESERVED_PREFIX))


class LocationSession(ABC):
    temporary_prefix = TEMPORARY_PREFIX

    @abstractmethod
    async def list_files(self, folder: str) -> list[FileInfo]:
        """The regular files directly in `folder` (not below it)."""

    @abstractmethod
    async def size_of(self, path: str) -> int | None:
        """The size of the file at `path`, None when there is none."""

    @abstractmethod
    def open_read(self, path: str) -> AbstractAsyncContextManager[Reader]: ...

    @abstractmethod
    def open_write(self, path: str) -> AbstractAsyncContextManager[Writer]:
        """A new file at `path` (replacing one there), complete and flushed once closed."""

    @abstractmethod
    async def rename(self, source: str, target: str) -> None:
        """Rename, replacing `target` if it exists."""

    @abstractmethod
    async def remove(self, path: str) -> None: ...

    @abstractmethod
    async def make_folders(self, folder: str) -> None: ...


class Location(ABC):
    def __init__(self, location_id: str) -> None:
        self.id = location_id

    @abstractmethod
    def session(self) -> AbstractAsyncContextManager[LocationSession]: ...

    @abstractmethod
    def describe(self, path: str) -> str:
        """`path` as people read it in events: a local path or sftp://user@host:port/path."""

    async def close(self) -> None:  # noqa: B027 - most locations keep nothing open
        """Close what the location keeps open (idle connections)."""


def join(folder: str, name: str) -> str:
    return posixpath.join(folder, name) if folder not in ("", ".") else name
