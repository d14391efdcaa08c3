"""Files an HA command run as root creates belong to the owner of their folder.

On a pair, the sync account owns the HA state folder and the runtime's account owns the
audit folder. An operator may still run `appliance ha ...` as root (promotion must: it
starts services); what root creates there is handed to the folder's owner, or the next
unprivileged sync, or `appliance serve` after a promotion, could not write it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def _match_owner(path: Path, uid: int, gid: int) -> None:
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    if (found.st_uid, found.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)


def give_files_to_folder_owner(paths: Iterable[Path]) -> None:
    """Each file (and its SQLite -wal and -shm) to the owner of the folder it is in."""
    if not running_as_root():
        return
    for path in paths:
        try:
            folder = path.parent.stat()
        except FileNotFoundError:
            continue
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            _match_owner(file, folder.st_uid, folder.st_gid)


def give_tree_to_folder_owner(folder: Path) -> None:
    """Everything under `folder` to the owner of `folder`."""
    if not running_as_root():
        return
    try:
        owner = folder.stat()
    except FileNotFoundError:
        return
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            _match_owner(Path(parent) / name, owner.st_uid, owner.st_gid)
