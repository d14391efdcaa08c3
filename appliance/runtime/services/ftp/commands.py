"""Transfer and listing commands, rewritten to call the VirtualFS directly.

pyftpdlib's own versions open real files and stat each listed name; these open VirtualFS
handles (atomic uploads, resume from the hidden partial file) and list a folder with one
VirtualFS call. Reply codes: 550 refused or missing, 553 name not allowed, 554 bad REST.
"""

from __future__ import annotations

import uuid

from pyftpdlib.handlers.ftp.producers import BufferedIteratorProducer

from appliance.runtime.fs import FileInfo, FSError, InvalidPath
from appliance.runtime.services.ftp.data import LargeFileProducer
from appliance.runtime.services.ftp.files import DownloadFile, UploadFile
from appliance.runtime.services.ftp.filesystem import reply_text
from appliance.runtime.services.ftp.listing import list_line, mlsx_line


class TransferCommands:
    """Mixed into the session handler; `self.fs` is the VirtualFSAdapter after login."""

    def refuse(self, error: FSError, code: int = 550) -> None:
        if isinstance(error, InvalidPath):
            code = 553
        self.respond(f"{code} {reply_text(error)}.")

    # -- downloads ----------------------------------------------------------
    def ftp_RETR(self, file: str) -> str | None:
        offset, self._restart_position = self._restart_position, 0
        vfs = self.fs.vfs
        try:
            size = vfs.stat(file).size
            if offset > size:
                self.respond(f"554 REST position {offset} is beyond the size {size}.")
                return None
            download = DownloadFile(vfs.open_read(file, offset=offset))
        except FSError as error:
            self.refuse(error)
            return None
        producer = LargeFileProducer(download, self._current_type)
        self.push_dtp_data(producer, isproducer=True, file=download, cmd="RETR")
        return file

    # -- uploads ------------------------------------------------------------
    def ftp_STOR(self, file: str, mode: str = "w") -> str | None:
        append = "a" in mode
        offset, self._restart_position = self._restart_position, 0
        if append and not self.fs.lexists(file):
            append, offset = False, self.fs.resumable_size(file)
        try:
            handle = self.fs.vfs.open_write(file, append=append, offset=offset)
        except FSError as error:
            self.refuse(error, 554 if offset and "resume" in error.message else 550)
            return None
        self._receive(UploadFile(handle), "APPE" if "a" in mode else "STOR")
        return file

    def ftp_STOU(self, line: str) -> str | None:
        if self._restart_position:
            self.respond("450 STOU cannot follow REST.")
            return None
        prefix = line or "upload"
        try:
            name = self.fs.vfs.normalize(f"{prefix}.{uuid.uuid4().hex[:12]}", self.fs.cwd)
            handle = self.fs.vfs.open_write(name)
        except FSError as error:
            self.refuse(error)
            return None
        self._receive(UploadFile(handle), "STOU", reply=f"FILE: {name.rsplit('/', 1)[-1]}")
        return name

    def _receive(self, upload: UploadFile, cmd: str, reply: str = "") -> None:
        if self.data_channel is not None:
            self.respond(f"125 {reply or 'Data connection already open; transfer starting.'}")
            self.data_channel.file_obj = upload
            self.data_channel.enable_receiving(self._current_type, cmd)
        else:
            self.respond(f"150 {reply or 'File status okay; about to open data connection.'}")
            self._in_dtp_queue = (upload, cmd)

    def ftp_SIZE(self, path: str) -> None:
        if self._current_type == "a":
            self.respond("550 SIZE is not allowed in ASCII mode; send TYPE I first.")
            return
        try:
            info = self.fs.vfs.stat(path)
        except FSError as error:
            partial = self.fs.resumable_size(path)
            if partial:  # an interrupted upload, kept hidden for REST/APPE
                self.respond(f"213 {partial}")
            else:
                self.refuse(error)
            return
        if info.is_dir:
            self.respond(f"550 {path}: is a folder.")
        else:
            self.respond(f"213 {info.size}")

    # -- listings -----------------------------------------------------------
    def _entries(self, path: str) -> list[FileInfo]:
        info = self.fs.vfs.stat(path)
        return self.fs.vfs.list(path) if info.is_dir else [info]

    def ftp_LIST(self, path: str) -> str | None:
        try:
            entries = self._entries(path)
        except FSError as error:
            self.refuse(error)
            return None
        lines = (list_line(info).encode(self.encoding, self.unicode_errors) for info in entries)
        self.push_dtp_data(BufferedIteratorProducer(lines), isproducer=True, cmd="LIST")
        return path

    def ftp_NLST(self, path: str) -> str | None:
        try:
            entries = self._entries(path)
        except FSError as error:
            self.refuse(error)
            return None
        data = "".join(f"{info.name}\r\n" for info in entries)
        self.push_dtp_data(data.encode(self.encoding, self.unicode_errors), cmd="NLST")
        return path

    def ftp_MLSD(self, path: str) -> str | None:
        vfs = self.fs.vfs
        try:
            if not vfs.stat(path).is_dir:
                self.respond(f"501 {path}: not a folder.")
                return None
            entries = vfs.list(path)
        except FSError as error:
            self.refuse(error)
            return None
        lines = (
            mlsx_line(info, vfs.allows).encode(self.encoding, self.unicode_errors)
            for info in entries
        )
        self.push_dtp_data(BufferedIteratorProducer(lines), isproducer=True, cmd="MLSD")
        return path

    def ftp_MLST(self, path: str) -> str | None:
        vfs = self.fs.vfs
        try:
            info = vfs.stat(path)
        except FSError as error:
            self.refuse(error)
            return None
        self.push(f'250-Listing "{path}":\r\n')
        self.push(" " + mlsx_line(info, vfs.allows, full_path=True))
        self.respond("250 End MLST.")
        return path
