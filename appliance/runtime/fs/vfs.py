"""The facade every protocol calls: resolve inside the home folder, check permissions, act, emit.

One VirtualFS per session (account, protocol, peer). Every method takes a client path,
normalizes it (see jail.py), checks the account's permission for the operation on the
virtual path, performs the operation on the real path and emits the event. Errors are
FSError subclasses; PermissionDenied and InvalidPath are also recorded as 20040 and 20041.
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path

from appliance.runtime.aaa.identity import Account
from appliance.runtime.events.bus import EventBus
from appliance.runtime.fs import atomic, jail
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
from appliance.runtime.fs.handles import ReadHandle, WriteHandle

UUID_PREFIX = "uuid-prefix"


@dataclass(frozen=True)
class FileInfo:
    name: str
    path: str
    is_dir: bool
    size: int
    mtime: float
    mode: int


def _info(virtual_path: str, result: os.stat_result) -> FileInfo:
    return FileInfo(
        name=jail.split(virtual_path)[1] or "/",
        path=virtual_path,
        is_dir=stat_module.S_ISDIR(result.st_mode),
        size=result.st_size,
        mtime=result.st_mtime,
        mode=result.st_mode,
    )


class VirtualFS:
    """The account's home folder as seen by one session."""

    def __init__(
        self,
        account: Account,
        bus: EventBus,
        *,
        protocol: str,
        peer: str,
        component: str,
        temporary_grace: float = atomic.DEFAULT_TEMPORARY_GRACE,
    ) -> None:
        self.account = account
        self.temporary_grace = temporary_grace
        self.home = Path(account.home_folder)
        self.bus = bus
        self.protocol = protocol
        self.peer = peer
        self.component = component
        # uuid-prefix: what this session uploaded as "/in/A.CSV" is stored as
        # "/in/<uuid>-A.CSV"; within the session the client keeps seeing the name it chose.
        self._stored_as: dict[str, str] = {}

    # -- plumbing -----------------------------------------------------------
    def _emit(self, event_id: int, **data: object) -> None:
        self.bus.emit(
            event_id,
            self.component,
            account=self.account.name,
            peer=self.peer,
            protocol=self.protocol,
            **data,
        )

    def normalize(self, path: str, cwd: str = "/") -> str:
        """The absolute virtual path ("/a/b"); InvalidPath (and event 20041) when refused."""
        try:
            return jail.normalize(path, cwd)
        except InvalidPath as error:
            self._emit(20041, path=error.path, reason=error.message)
            raise

    def _resolve(self, path: str, operation: str | None, cwd: str = "/") -> tuple[str, Path]:
        virtual = self.normalize(path, cwd)
        if operation is not None:
            self._require(operation, virtual)
        try:
            return virtual, jail.real_path(self.home, self._stored_as.get(virtual, virtual))
        except InvalidPath as error:
            self._emit(20041, path=error.path, reason=error.message)
            raise

    def _require(self, operation: str, virtual: str) -> None:
        if not self.account.permissions.allows(operation, virtual):
            self._emit(20040, operation=operation, path=virtual)
            raise PermissionDenied(virtual, f"{operation} is not allowed here")

    def allows(self, operation: str, path: str) -> bool:
        """Ask without acting (services use it to hide commands); emits nothing."""
        return self.account.permissions.allows(operation, jail.normalize(path))

    @staticmethod
    def _lstat(virtual: str, real: Path) -> os.stat_result:
        try:
            return real.lstat()
        except FileNotFoundError:
            raise NotFound(virtual, "no such file or folder") from None
        except NotADirectoryError:
            raise NotFound(virtual, "a parent of this path is a file") from None

    def _parent_folder(self, virtual: str, real: Path) -> None:
        parent_virtual, _ = jail.split(virtual)
        try:
            result = real.parent.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(virtual, f"the folder {parent_virtual} does not exist") from None
        if not stat_module.S_ISDIR(result.st_mode):
            raise NotADirectory(virtual, f"{parent_virtual} is not a folder")

    # -- reading ------------------------------------------------------------
    def real_path(self, path: str) -> Path:
        """The real path (inside the home folder) of a client path; checks no permission."""
        return self._resolve(path, None)[1]

    def stat(self, path: str) -> FileInfo:
        virtual, real = self._resolve(path, "list")
        return _info(virtual, self._lstat(virtual, real))

    def list(self, path: str) -> list[FileInfo]:
        virtual, real = self._resolve(path, "list")
        if not stat_module.S_ISDIR(self._lstat(virtual, real).st_mode):
            raise NotADirectory(virtual, "not a folder")
        entries = []
        chosen_names = {stored: chosen for chosen, stored in self._stored_as.items()}
        with os.scandir(real) as scan:
            for entry in scan:
                child = self._visible_child(virtual, entry)
                if child is not None:
                    shown = chosen_names.get(child, child)
                    entries.append(_info(shown, entry.stat(follow_symlinks=False)))
        self._emit(20058, path=virtual)
        return sorted(entries, key=lambda info: info.name)

    def _visible_child(self, folder: str, entry: os.DirEntry) -> str | None:
        """The child's virtual path, or None for links, reserved and unreachable names."""
        if entry.is_symlink():
            return None
        try:
            child = jail.normalize(entry.name, folder)
        except InvalidPath:
            return None
        if jail.split(child)[1] != entry.name:  # not in NFC: unreachable by name
            return None
        return child if self.account.permissions.allows("list", child) else None

    def open_read(self, path: str, offset: int = 0) -> ReadHandle:
        virtual, real = self._resolve(path, "read")
        if stat_module.S_ISDIR(self._lstat(virtual, real).st_mode):
            raise IsADirectory(virtual, "is a folder; expected a file")
        try:
            stream = atomic.open_for_read(real)
        except OSError as error:
            raise FSError(virtual, f"cannot be opened: {error.strerror}") from error
        if offset:
            stream.seek(offset)
        return ReadHandle(virtual, real, stream, self._emit)

    # -- writing ------------------------------------------------------------
    def open_write(self, path: str, *, append: bool = False, offset: int = 0) -> WriteHandle:
        """Start an atomic upload; see WriteHandle for commit and abort."""
        virtual, real = self._resolve(path, "write")
        if virtual == "/":
            raise IsADirectory(virtual, "the home folder is a folder; expected a file name")
        self._parent_folder(virtual, real)
        existing = real.lstat() if real.exists() else None
        if existing is not None and stat_module.S_ISDIR(existing.st_mode):
            raise IsADirectory(virtual, "is a folder; expected a file")
        final_virtual, final_real = virtual, real
        if self.account.amend_write_name == UUID_PREFIX:
            final_real = atomic.uuid_prefixed(jail.real_path(self.home, virtual))
            final_virtual = jail.join(jail.split(virtual)[0], final_real.name)
            self._stored_as[virtual] = final_virtual
        resumable = atomic.partial_path(real)
        temporary = atomic.temporary_path(real)
        stream = atomic.create_exclusive(temporary)
        try:
            self._prefill(virtual, real, existing, resumable, temporary, stream, append, offset)
        except BaseException:
            stream.close()
            atomic.discard(temporary)
            raise
        return WriteHandle(
            virtual, final_virtual, final_real, temporary, stream, self._emit, resumable=resumable
        )

    @staticmethod
    def _prefill(virtual, real, existing, resumable, temporary, stream, append, offset) -> None:
        """Put what the client resumes or appends to into the temporary file."""
        if append:
            if existing is not None:
                atomic.copy_prefix(real, stream, None)
            return
        if offset <= 0:
            return
        partial_size = resumable.stat().st_size if resumable.is_file() else -1
        if partial_size >= offset:
            atomic.copy_prefix(resumable, stream, offset)
        elif existing is not None and existing.st_size >= offset:
            atomic.copy_prefix(real, stream, offset)
        else:
            have = max(partial_size, existing.st_size if existing else 0, 0)
            raise FSError(virtual, f"cannot resume at byte {offset}: only {have} bytes were stored")

    def resumable_size(self, path: str) -> int:
        """Bytes kept from an interrupted upload of `path` (0 when none), for REST/resume."""
        virtual, real = self._resolve(path, "write")
        partial = atomic.partial_path(real)
        return partial.stat().st_size if partial.is_file() else 0

    def rename(self, source: str, destination: str) -> None:
        source_virtual, source_real = self._resolve(source, "rename")
        target_virtual, target_real = self._resolve(destination, "rename")
        if source_virtual == "/" or target_virtual == "/":
            raise InvalidPath(source_virtual, "the home folder cannot be renamed")
        self._lstat(source_virtual, source_real)
        if (target_virtual + "/").startswith(source_virtual + "/"):
            raise InvalidPath(target_virtual, "a folder cannot be moved into itself")
        if target_real.exists() or target_real.is_symlink():
            raise AlreadyExists(target_virtual, "the destination already exists")
        self._parent_folder(target_virtual, target_real)
        try:
            os.rename(source_real, target_real)
        except OSError as error:
            raise FSError(source_virtual, f"cannot be renamed: {error.strerror}") from error
        self._emit(20055, path=source_virtual, destination=target_virtual)

    def remove(self, path: str) -> None:
        virtual, real = self._resolve(path, "delete-file")
        if stat_module.S_ISDIR(self._lstat(virtual, real).st_mode):
            raise IsADirectory(virtual, "is a folder; use rmdir")
        try:
            real.unlink()
        except OSError as error:
            raise FSError(virtual, f"cannot be deleted: {error.strerror}") from error
        self._emit(20054, path=virtual)

    def mkdir(self, path: str) -> None:
        virtual, real = self._resolve(path, "create-folder")
        if real.exists() or real.is_symlink():
            raise AlreadyExists(virtual, "already exists")
        self._parent_folder(virtual, real)
        try:
            real.mkdir()
        except FileExistsError:
            raise AlreadyExists(virtual, "already exists") from None
        except OSError as error:
            raise FSError(virtual, f"cannot be created: {error.strerror}") from error
        self._emit(20056, path=virtual)

    def rmdir(self, path: str) -> None:
        virtual, real = self._resolve(path, "delete-folder")
        if virtual == "/":
            raise InvalidPath(virtual, "the home folder cannot be deleted")
        if not stat_module.S_ISDIR(self._lstat(virtual, real).st_mode):
            raise NotADirectory(virtual, "not a folder")
        entries = list(real.iterdir())
        # What an interrupted upload left (the user can neither see nor delete it) does not
        # keep the folder; what an upload still writes does.
        grace = self.temporary_grace
        orphans = [e for e in entries if atomic.is_orphaned_temporary(e, grace, partials=True)]
        if len(orphans) < len(entries):
            hidden_only = all(e.name.startswith(jail.RESERVED_PREFIX) for e in entries)
            reason = "an upload into this folder is in progress" if hidden_only else "not empty"
            raise NotEmpty(virtual, f"the folder is {reason}")
        for orphan in orphans:
            atomic.discard(orphan)
        try:
            real.rmdir()
        except OSError as error:
            raise FSError(virtual, f"cannot be deleted: {error.strerror}") from error
        self._emit(20057, path=virtual)

    def set_attributes(
        self, path: str, *, mtime: float | None = None, mode: int | None = None
    ) -> None:
        virtual, real = self._resolve(path, "set-attributes")
        if virtual == "/":
            # chmod 000 on the home folder would lock its account out of every protocol.
            self._emit(20040, operation="set-attributes", path=virtual)
            raise PermissionDenied(virtual, "the home folder's attributes cannot be changed")
        current = self._lstat(virtual, real)
        changed: dict[str, object] = {}
        if mtime is not None:
            os.utime(real, (current.st_atime, mtime))
            changed["mtime"] = mtime
        if mode is not None:
            os.chmod(real, stat_module.S_IMODE(mode) & 0o777)
            changed["mode"] = oct(stat_module.S_IMODE(mode) & 0o777)
        if changed:
            self._emit(20059, path=virtual, attributes=changed)
