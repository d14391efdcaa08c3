"""Folder listings from VirtualFS FileInfo: LIST (ls -l style), NLST names and MLSx facts."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable

from appliance.runtime.fs import FileInfo

SIX_MONTHS = 180 * 24 * 3600
Allows = Callable[[str, str], bool]
"""allows(operation, virtual_path): the VirtualFS permission question, without side effects."""


def list_line(info: FileInfo, now: float | None = None) -> str:
    """One `ls -l` line; owner and group are not exposed (they mean nothing to the client)."""
    now = time.time() if now is None else now
    mode = stat.filemode(info.mode) if info.mode else ("d" if info.is_dir else "-") + "rw-r--r--"
    moment = time.gmtime(info.mtime)
    recent = now - SIX_MONTHS < info.mtime <= now + 3600
    when = time.strftime("%b %d %H:%M" if recent else "%b %d  %Y", moment)
    return f"{mode} 1 owner group {info.size:>13} {when} {info.name}\r\n"


def perm_fact(info: FileInfo, allows: Allows) -> str:
    """RFC 3659 `perm` fact from the account's permissions on this path."""
    path = info.path
    if info.is_dir:
        wanted = (
            ("e", "list"),
            ("l", "list"),
            ("c", "write"),
            ("m", "create-folder"),
            ("p", "delete-file"),
            ("f", "rename"),
            ("d", "delete-folder"),
        )
    else:
        wanted = (
            ("r", "read"),
            ("w", "write"),
            ("a", "write"),
            ("f", "rename"),
            ("d", "delete-file"),
        )
    return "".join(letter for letter, operation in wanted if allows(operation, path))


def mlsx_line(info: FileInfo, allows: Allows, *, full_path: bool = False) -> str:
    """One MLSD line (or the fact part of an MLST reply with `full_path`)."""
    kind = "dir" if info.is_dir else "file"
    modify = time.strftime("%Y%m%d%H%M%S", time.gmtime(info.mtime))
    facts = f"type={kind};size={info.size};modify={modify};perm={perm_fact(info, allows)};"
    return f"{facts} {info.path if full_path else info.name}\r\n"
