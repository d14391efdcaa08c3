"""The server side of an `scp` command line (legacy protocol): which direction, flags, paths."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

FLAGS = frozenset("dfprtvqE")


class ScpCommandError(ValueError):
    pass


@dataclass(frozen=True)
class ScpCommand:
    upload: bool
    """True for `-t` (the client sends files), False for `-f` (the client fetches)."""
    paths: tuple[str, ...]
    recursive: bool = False
    preserve: bool = False
    target_is_folder: bool = False


def _read_flags(arguments: list[str]) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    while arguments and arguments[0].startswith("-") and arguments[0] != "-":
        argument = arguments.pop(0)
        if argument == "--":
            break
        unknown = set(argument[1:]) - FLAGS
        if unknown:
            raise ScpCommandError(f"unsupported scp option -{''.join(sorted(unknown))}")
        flags |= set(argument[1:])
    return flags, arguments


def parse_scp_command(command: str) -> ScpCommand:
    """Parse `scp [-r] [-p] [-d] -t|-f [--] PATH...`; ScpCommandError when it is not one."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ScpCommandError(f"cannot parse the scp command: {error}") from None
    if not words or words[0] != "scp":
        raise ScpCommandError("not an scp command")
    flags, paths = _read_flags(words[1:])
    if ("t" in flags) == ("f" in flags):
        raise ScpCommandError("scp needs exactly one of -t (upload) and -f (download)")
    if not paths:
        raise ScpCommandError("scp needs a path")
    return ScpCommand(
        upload="t" in flags,
        paths=tuple(paths),
        recursive="r" in flags,
        preserve="p" in flags,
        target_is_folder="d" in flags,
    )
