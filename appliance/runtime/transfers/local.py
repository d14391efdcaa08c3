"""A folder of this host as a location: the source of pushes and the destination of pulls."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath

from appliance.runtime.fs.atomic import (
    create_exclusive,
    discard,
    durable_replace,
    open_for_read,
)
from appliance.runtime.fs.jail import RESERVED_PREFIX
from appliance.runtime.transfers.location import (
    FileInfo,
    Location,
    LocationError,
    LocationSession,
    Reader,
    Writer,
)


class LocalLocation(Location):
    def __init__(self, location_id: str, root: Path) -> None:
        super().__init__(location_id)
        self.root = Path(root)

    def resolve(self, path: str) -> Path:
        """`path` below the root; `..` is refused (paths come from the configuration)."""
        parts = PurePosixPath(path.replace("\\", "/")).parts
        parts = tuple(part for part in parts if part not in ("/", "."))
        if ".." in parts:
            raise LocationError(f"{path!r}: '..' is not allowed in a location path")
        return self.root.joinpath(*parts)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[LocalSession]:
        yield LocalSession(self)

    def describe(self, path: str) -> str:
        return str(self.resolve(path))


class _FileReader(Reader):
    def __init__(self, stream) -> None:
        self.stream = stream

    async def read(self, size: int) -> bytes:
        return self.stream.read(size)


class _FileWriter(Writer):
    def __init__(self, stream) -> None:
        self.stream = stream

    async def write(self, data: bytes) -> None:
        self.stream.write(data)


class LocalSession(LocationSession):
    temporary_prefix = RESERVED_PREFIX + "transfer-"  # hidden from accounts by the jail

    def __init__(self, location: LocalLocation) -> None:
        self.location = location

    async def list_files(self, folder: str) -> list[FileInfo]:
        found = []
        try:
            entries = list(os.scandir(self.location.resolve(folder)))
        except FileNotFoundError:
            raise LocationError(f"folder {self.location.resolve(folder)} does not exist") from None
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found.append(FileInfo(entry.name, stat.st_size, stat.st_mtime))
        return found

    async def size_of(self, path: str) -> int | None:
        target = self.location.resolve(path)
        return target.stat().st_size if target.is_file() else None

    @asynccontextmanager
    async def open_read(self, path: str) -> AsyncIterator[Reader]:
        with open_for_read(self.location.resolve(path)) as stream:
            yield _FileReader(stream)

    @asynccontextmanager
    async def open_write(self, path: str) -> AsyncIterator[Writer]:
        target = self.location.resolve(path)
        discard(target)  # a stale temporary file of an interrupted attempt
        with create_exclusive(target) as stream:
            yield _FileWriter(stream)
            stream.flush()
            await asyncio.to_thread(os.fsync, stream.fileno())

    async def rename(self, source: str, target: str) -> None:
        durable_replace(self.location.resolve(source), self.location.resolve(target))

    async def remove(self, path: str) -> None:
        self.location.resolve(path).unlink()

    async def make_folders(self, folder: str) -> None:
        self.location.resolve(folder).mkdir(parents=True, exist_ok=True)
