"""A file job: the file a handler works on, and who put it there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from appliance.runtime.events.event import Event


@dataclass(frozen=True)
class FileJob:
    path: str  # virtual path, as the account sees it
    real_path: Path
    account: str | None
    peer: str | None
    event: Event

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.path).name

    @classmethod
    def from_event(cls, event: Event) -> FileJob | None:
        real_path = event.data.get("real_path")
        path = event.data.get("path")
        if not real_path or not path:
            return None
        return cls(str(path), Path(str(real_path)), event.account, event.peer, event)

    def moved_to(self, real_path: Path, path: str | None = None) -> FileJob:
        return FileJob(path or self.path, real_path, self.account, self.peer, self.event)


@dataclass(frozen=True)
class Outcome:
    """What a handler did: `passed` lets the file move on to the next handler of the chain."""

    passed: bool
    result: str
    files: tuple[FileJob, ...] = ()
    """The files that move on (by default the job's own file, where it is now)."""
