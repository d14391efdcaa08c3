"""The data channel: large buffers, TLS when PROT P, and the end of each transfer.

A download ends with its VirtualFS event (bytes counted here, since sendfile bypasses the
file object); an upload is committed (renamed into place, event 20050 durable) before the
226 reply goes out, or aborted so that nothing appears under its final name. Over TLS nothing
is written, not even the end of an empty listing, before the data channel's handshake is
complete: the close that ends the transfer is then a clean TLS shutdown.
"""

from __future__ import annotations

import contextlib
import socket

from pyftpdlib.handlers.ftp.data import DTPHandler
from pyftpdlib.handlers.ftp.producers import FileProducer
from pyftpdlib.handlers.ftps.ssl import SSLConnectionMixin
from pyftpdlib.log import logger
from pyftpdlib.utils import is_ssl_sock

from appliance.runtime.fs import FSError
from appliance.runtime.services.ftp.files import DownloadFile, UploadFile

BUFFER_SIZE = 256 * 1024
"""Bytes per send/recv call: TLS data channels cannot use sendfile, so chunks must be big."""
READS_PER_EVENT = 16
"""TLS delivers one 16 KiB record per read; drain several per loop wake-up."""


class LargeFileProducer(FileProducer):
    buffer_size = BUFFER_SIZE


class _BatchedReads(DTPHandler):
    """Reads several times per readable event (several TLS records instead of one)."""

    ac_in_buffer_size = BUFFER_SIZE
    ac_out_buffer_size = BUFFER_SIZE

    def handle_read_event(self) -> None:
        for _ in range(READS_PER_EVENT):
            before = self.tot_bytes_received
            self.handle_read()
            if self._closed or self.transfer_finished or self.tot_bytes_received == before:
                return
            if not is_ssl_sock(self.socket):
                return


class DataChannel(SSLConnectionMixin, _BatchedReads):
    """pyftpdlib's TLS_DTPHandler, plus TCP_NODELAY, TLS events and transfer outcomes."""

    def __init__(self, sock: socket.socket, cmd_channel) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, cmd_channel)
        if self.cmd_channel._prot:
            self.secure_connection(self.cmd_channel.ssl_context)

    def __repr__(self) -> str:
        return DTPHandler.__repr__(self)

    def use_sendfile(self) -> bool:
        return not is_ssl_sock(self.socket) and super().use_sendfile()

    def initiate_send(self) -> None:
        """Nothing goes out, not even the end of an empty listing, before TLS is established."""
        if self._ssl_accepting:
            return  # the handshake's last event brings us back here (the wanted events say WRITE)
        super().initiate_send()

    def send(self, data: bytes) -> int:
        """An empty write is no write: over TLS it would drive the handshake from SSL_write."""
        if not data:
            return 0
        return super().send(data)

    def handle_ssl_established(self) -> None:
        self.cmd_channel.tls_negotiated("data", self.socket)

    def handle_failed_ssl_handshake(self) -> None:
        self.cmd_channel.tls_failed("data")
        self.cmd_channel.respond("522 TLS handshake on the data channel failed.")
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._finish_file()
        super().close()

    def _finish_file(self) -> None:
        file = self.file_obj
        if file is None or file.closed:
            return
        if isinstance(file, UploadFile):
            self._finish_upload(file)
        elif isinstance(file, DownloadFile):
            file.finish(self.transfer_finished, self.tot_bytes_sent, self._reason())

    def _finish_upload(self, file: UploadFile) -> None:
        if not (self.receive and self.transfer_finished):
            file.abort(self._reason())
            return
        try:
            file.commit()
        except FSError as error:
            self.transfer_finished = False
            self._resp = (f"451 {error.message}; the upload was not stored.", logger.warning)

    def _reason(self) -> str:
        if self._resp and not self._resp[0].startswith("2"):
            return self._resp[0][4:].rstrip(".")
        return "the data connection closed before the end of the transfer"
