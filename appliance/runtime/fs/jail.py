"""Resolve client paths to virtual paths and to real paths that never leave the home folder.

A virtual path is absolute ("/a/b"), its root is the home folder. `..` is resolved in the
virtual space and stops at the root (like a chroot). Refused outright: NUL and other control
characters, backslashes, components that Unicode compatibility normalization turns into `.`,
`..` or a separator (fullwidth dots, fullwidth solidus), names reserved for uploads in
progress, names or paths that are too long, and on Windows the characters and device names
Windows gives a meaning to. Names are kept in NFC so one name has one spelling on disk.
On the real side, no component below the home folder may be a symbolic link or junction:
a link, even one pointing inside, would let a path escape the permission rules.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from pathlib import Path

from appliance.runtime.fs.errors import InvalidPath

WINDOWS = sys.platform == "win32"
MAX_NAME_BYTES = 255
MAX_PATH_CHARS = 4096
RESERVED_PREFIX = ".~"
"""Names starting with this are the appliance's own (uploads in progress, partials)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


def _check_name(name: str, original: str) -> str:
    if _CONTROL.search(name):
        raise InvalidPath(original, "control characters (NUL included) are not allowed in names")
    if "\\" in name:
        raise InvalidPath(original, "backslashes are not allowed; use / between folders")
    compatible = unicodedata.normalize("NFKC", name)
    if compatible in (".", "..") or "/" in compatible or "\\" in compatible:
        raise InvalidPath(original, "a name that looks like a dot or a separator is not allowed")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidPath(original, f"names starting with {RESERVED_PREFIX} are reserved")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidPath(original, f"a name is longer than {MAX_NAME_BYTES} bytes")
    if WINDOWS and (
        _WINDOWS_FORBIDDEN.search(name) or _WINDOWS_DEVICES.match(name) or name[-1] in ". "
    ):
        raise InvalidPath(original, "a name Windows reserves is not allowed")
    return name


def normalize(path: str, cwd: str = "/") -> str:
    """The absolute virtual path for `path` (absolute, or relative to `cwd`)."""
    if not isinstance(path, str):
        raise InvalidPath(repr(path), "expected a text path")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidPath(path[:64] + "...", f"the path is longer than {MAX_PATH_CHARS} characters")
    if "\x00" in path:
        raise InvalidPath(path.replace("\x00", "\\0"), "NUL is not allowed in paths")
    text = unicodedata.normalize("NFC", path)
    if not text.startswith("/"):
        text = (cwd.rstrip("/") or "") + "/" + text
    parts: list[str] = []
    for name in text.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if parts:
                parts.pop()
            continue
        parts.append(_check_name(name, path))
    result = "/" + "/".join(parts)
    if len(result) > MAX_PATH_CHARS:
        raise InvalidPath(path[:64] + "...", f"the path is longer than {MAX_PATH_CHARS} characters")
    return result


def _is_link(path: Path) -> bool:
    if path.is_symlink():
        return True
    is_junction = getattr(path, "is_junction", None)  # Python 3.12+, Windows junctions
    return bool(is_junction and is_junction())


def _inside(real: Path, home: Path) -> bool:
    try:
        real_text, home_text = os.path.normcase(real), os.path.normcase(home)
        return os.path.commonpath([real_text, home_text]) == home_text
    except ValueError:  # different drives on Windows
        return False


def real_path(home: Path, virtual_path: str) -> Path:
    """The real path of a normalized virtual path; InvalidPath if a link is on the way.

    The last components may not exist yet (for mkdir or upload); those that exist are checked.
    """
    candidate = home
    for name in virtual_path.split("/"):
        if not name:
            continue
        candidate = candidate / name
        if _is_link(candidate):
            raise InvalidPath(virtual_path, "symbolic links are not followed")
    resolved = Path(os.path.realpath(candidate))
    if not _inside(resolved, home):
        raise InvalidPath(virtual_path, "the path resolves outside the home folder")
    return candidate


def join(virtual_folder: str, name: str) -> str:
    return virtual_folder.rstrip("/") + "/" + name


def split(virtual_path: str) -> tuple[str, str]:
    """("/a", "b") for "/a/b"; ("/", "") for "/"."""
    folder, _, name = virtual_path.rpartition("/")
    return folder or "/", name
