"""Canary files outside the home folder, and proof that nothing touched them.

`Canaries.plant()` writes files with a secret token in places a jailed client must never
reach, backdates their access and modification times (so that, under relatime, any read
or folder listing moves the access time), and records a snapshot. `check()` compares: same
set of files and folders, same contents, same times (a read or a listing changes atime, a
write or chmod changes mtime or ctime), and no new file anywhere outside the home.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

OLD = 3 * 86400  # seconds in the past for the backdated times
SIZE = 13337
"""Every canary file has this size: a stat reply that shows it has statted a canary."""


@dataclass(frozen=True)
class Entry:
    kind: str
    size: int
    mtime_ns: int
    atime_ns: int
    ctime_ns: int


@dataclass
class Canaries:
    """`roots` are folders watched in full; `skip` are paths inside them that may change."""

    roots: list[Path]
    skip: list[Path] = field(default_factory=list)
    token: str = field(default_factory=lambda: f"CANARY-{uuid.uuid4().hex}")
    files: list[Path] = field(default_factory=list)
    _entries: dict[Path, Entry] = field(default_factory=dict)
    _digests: dict[Path, str] = field(default_factory=dict)

    def plant(self, places: list[Path]) -> None:
        for path in places:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{self.token} {path.name}\n".encode().ljust(SIZE, b"."))
            self.files.append(path)
        paths = self._walk()
        self._digests = {path: self._digest(path) for path in paths if path.is_file()}
        self._rearm(paths)

    def _skipped(self, path: Path) -> bool:
        return any(path == skip or skip in path.parents for skip in self.skip)

    def _walk(self) -> list[Path]:
        found: list[Path] = []
        for root in self.roots:
            found.append(root)
            for folder, names, files in os.walk(root):
                base = Path(folder)
                names[:] = [n for n in names if not self._skipped(base / n)]
                found += [base / n for n in names + files if not self._skipped(base / n)]
        return found

    @staticmethod
    def _digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    @staticmethod
    def _snapshot(paths: list[Path]) -> dict[Path, Entry]:
        """lstat only: listing a folder would move its access time."""
        entries = {}
        for path in paths:
            try:
                result = path.lstat()
            except FileNotFoundError:
                continue
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            entries[path] = Entry(
                kind, result.st_size, result.st_mtime_ns, result.st_atime_ns, result.st_ctime_ns
            )
        return entries

    def check(self) -> list[str]:
        """Differences from the planted state, as sentences; empty when untouched."""
        now = self._snapshot(list(self._entries))  # times first: walking and hashing move them
        problems = [f"gone: {p}" for p in sorted(set(self._entries) - set(now))]
        for path in sorted(set(now) & set(self._entries)):
            before, after = self._entries[path], now[path]
            for name in ("kind", "size", "mtime_ns", "atime_ns", "ctime_ns"):
                if getattr(before, name) != getattr(after, name):
                    problems.append(f"{path}: {name} changed")
        for path, digest in self._digests.items():
            if path.is_file() and self._digest(path) != digest:
                problems.append(f"{path}: contents changed")
        paths = self._walk()
        problems += [f"new outside the home: {p}" for p in sorted(set(paths) - set(self._entries))]
        self._rearm(paths)
        return problems

    def _rearm(self, paths: list[Path]) -> None:
        """Backdate again after our own walk and reads, for the next check."""
        then = time.time() - OLD
        for path in paths:
            os.utime(path, (then - 3600, then), follow_symlinks=False)
        self._entries = self._snapshot(paths)

    def leaked(self, data: bytes) -> bool:
        """True when a reply or download contains a canary's secret or its size."""
        return self.token.encode() in data or str(SIZE).encode() in data
