"""Filesystem errors as SFTP status replies: the same sentence the event log has."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncssh

from appliance.runtime.fs.errors import (
    AlreadyExists,
    FSError,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotEmpty,
    NotFound,
    PermissionDenied,
)

SFTP_ERRORS: tuple[tuple[type[FSError], type[asyncssh.SFTPError]], ...] = (
    (PermissionDenied, asyncssh.SFTPPermissionDenied),
    (NotFound, asyncssh.SFTPNoSuchFile),
    (AlreadyExists, asyncssh.SFTPFileAlreadyExists),
    (NotADirectory, asyncssh.SFTPNotADirectory),
    (IsADirectory, asyncssh.SFTPFileIsADirectory),
    (NotEmpty, asyncssh.SFTPDirNotEmpty),
    (InvalidPath, asyncssh.SFTPInvalidFilename),
)


def sftp_error(error: FSError) -> asyncssh.SFTPError:
    for fs_error, sftp_class in SFTP_ERRORS:
        if isinstance(error, fs_error):
            return sftp_class(f"{error.path}: {error.message}")
    return asyncssh.SFTPFailure(f"{error.path}: {error.message}")


@contextlib.contextmanager
def as_sftp_errors() -> Iterator[None]:
    """Turn FSError raised inside the block into the matching SFTP status."""
    try:
        yield
    except FSError as error:
        raise sftp_error(error) from None
