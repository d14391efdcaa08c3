"""Atomic uploads: write to a hidden temporary name in the same folder, rename when complete.

Readers and dispatchers never see a partial file under its final name: the data goes to
`.~upload-<uuid>.part` and `os.replace` (atomic on POSIX and Windows) moves it into place
after an fsync. An interrupted upload that the client may resume is kept as
`.~partial-<digest of the name>`, also hidden, and is picked up by the next write at an offset.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from appliance.runtime.fs.jail import RESERVED_PREFIX

TEMPORARY_PREFIX = RESERVED_PREFIX + "upload-"
TEMPORARY_SUFFIX = ".part"
DEFAULT_TEMPORARY_GRACE = 3600
PARTIAL_PREFIX = RESERVED_PREFIX + "partial-"
_BINARY = getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
COPY_CHUNK = 1024 * 1024


def temporary_path(final: Path) -> Path:
    return final.parent / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"


def is_temporary_name(name: str) -> bool:
    return name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)


def is_orphaned_temporary(
    path: Path, grace: float, now: float | None = None, *, partials: bool = False
) -> bool:
    """An upload temporary nobody has written for `grace` seconds: its upload ended without
    a commit or an abort (the process was killed). An upload in progress keeps writing, and
    every protocol's idle timeout closes a silent one long before the grace runs out. With
    `partials`, the kept data of an interrupted upload (for a resume) counts too."""
    kept_for_resume = partials and path.name.startswith(PARTIAL_PREFIX)
    if not (is_temporary_name(path.name) or kept_for_resume):
        return False
    try:
        modified = path.lstat().st_mtime
    except OSError:
        return False
    return (now if now is not None else time.time()) - modified > grace


def orphaned_temporaries(root: Path, grace: float) -> Iterator[Path]:
    """Orphaned upload temporaries anywhere below `root` (symbolic links not followed)."""
    now = time.time()
    for folder, folders, files in os.walk(root, followlinks=False):
        folders[:] = [name for name in folders if not Path(folder, name).is_symlink()]
        for name in files:
            path = Path(folder, name)
            if is_orphaned_temporary(path, grace, now) and not path.is_symlink():
                yield path


def partial_path(final: Path) -> Path:
    digest = hashlib.sha256(final.name.encode("utf-8")).hexdigest()[:40]
    return final.parent / f"{PARTIAL_PREFIX}{digest}"


def uuid_prefixed(final: Path) -> Path:
    """REPORT.CSV becomes <uuid4>-REPORT.CSV in the same folder."""
    return final.parent / f"{uuid.uuid4()}-{final.name}"


def create_exclusive(path: Path):
    """A new binary file opened for reading and writing; fails if the name exists."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _BINARY | _NOFOLLOW, 0o666)
    return os.fdopen(fd, "r+b")


def open_for_read(path: Path):
    fd = os.open(path, os.O_RDONLY | _BINARY | _NOFOLLOW)
    return os.fdopen(fd, "rb")


def copy_prefix(source: Path, target, length: int | None) -> int:
    """Copy the first `length` bytes (all when None) of `source` into the open `target`."""
    copied = 0
    with open_for_read(source) as stream:
        while length is None or copied < length:
            want = COPY_CHUNK if length is None else min(COPY_CHUNK, length - copied)
            chunk = stream.read(want)
            if not chunk:
                break
            target.write(chunk)
            copied += len(chunk)
    return copied


def fsync_folder(folder: Path) -> None:
    """Make a rename durable; folders cannot be opened (or need not be) on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(temporary: Path, final: Path) -> None:
    """Rename the (already fsynced, closed) temporary file over `final`, durably."""
    os.replace(temporary, final)
    fsync_folder(final.parent)


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target, follow_symlinks=False)
