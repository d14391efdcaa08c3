"""The virtual filesystem every protocol goes through: jail, permissions, atomic writes."""

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
from appliance.runtime.fs.vfs import FileInfo, ReadHandle, VirtualFS, WriteHandle

__all__ = [
    "AlreadyExists",
    "FSError",
    "FileInfo",
    "InvalidPath",
    "IsADirectory",
    "NotADirectory",
    "NotEmpty",
    "NotFound",
    "PermissionDenied",
    "ReadHandle",
    "VirtualFS",
    "WriteHandle",
]
