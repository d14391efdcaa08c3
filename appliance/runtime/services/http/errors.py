"""How filesystem and request errors become HTTP answers (JSON for the API, HTML for pages)."""

from __future__ import annotations

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

STATUS = (
    (PermissionDenied, 403),
    (NotFound, 404),
    (InvalidPath, 400),
    (AlreadyExists, 409),
    (NotADirectory, 409),
    (IsADirectory, 409),
    (NotEmpty, 409),
)


def status_for(error: FSError) -> int:
    """The HTTP status of a filesystem error; 500 for an unexpected storage failure."""
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def message_for(error: FSError) -> str:
    return f"{error.path}: {error.message}"
