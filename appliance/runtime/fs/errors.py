"""Errors of the virtual filesystem; services map them to protocol replies."""

from __future__ import annotations


class FSError(Exception):
    """A filesystem operation failed; `path` is the virtual path, `message` a human sentence."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class PermissionDenied(FSError):
    """The account's permissions do not allow the operation (event 20040 was emitted)."""


class NotFound(FSError):
    pass


class AlreadyExists(FSError):
    pass


class NotADirectory(FSError):
    pass


class IsADirectory(FSError):
    pass


class NotEmpty(FSError):
    pass


class InvalidPath(FSError):
    """The path is refused: traversal, NUL, reserved or too long (event 20041 was emitted)."""
