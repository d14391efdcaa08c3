"""Audit files the appliance's group may append to.

On an active-passive pair the HA commands run as an unprivileged sync account, a member of
the runtime's group, and record their events in the same audit database and logs as the
runtime. So these files are readable and writable by the group (never by others), whoever
created them and whatever the creator's umask was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GROUP_READ_WRITE = stat.S_IRGRP | stat.S_IWGRP


def share_with_group(path: Path) -> None:
    """Add group read and write to a file this process owns; nothing on Windows."""
    if os.name != "posix":
        return
    try:
        found = path.stat()
    except FileNotFoundError:
        return
    if found.st_uid != os.geteuid() or found.st_mode & GROUP_READ_WRITE == GROUP_READ_WRITE:
        return
    os.chmod(path, (stat.S_IMODE(found.st_mode) | GROUP_READ_WRITE) & ~stat.S_IRWXO)
