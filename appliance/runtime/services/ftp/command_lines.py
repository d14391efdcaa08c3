"""Command lines longer than the limit: discarded up to their end and answered exactly once.

pyftpdlib answers "500 Command too long." each time its input buffer passes 2 048 bytes and
then runs whatever follows up to CRLF as a command of its own, so one overlong line got two
or more replies (depending on how the bytes arrived) and the client's replies fell out of
step with its commands. Here an overlong line is dropped whole and gets one 500 reply when
its CRLF arrives; the buffer stays bounded however long the line grows.
"""

from __future__ import annotations

MAX_LINE_BYTES = 2048
"""pyftpdlib's own limit for one command line (RFC 959 allows a 500 reply beyond it)."""


class BoundedCommandLines:
    """Mixed into the session handler before pyftpdlib's FTPHandler."""

    _line_too_long = False

    def collect_incoming_data(self, data: bytes) -> None:
        if self._line_too_long:
            return
        self._in_buffer.append(data)
        self._in_buffer_len += len(data)
        if self._in_buffer_len > MAX_LINE_BYTES:
            self._line_too_long = True
            self._in_buffer = []
            self._in_buffer_len = 0

    def found_terminator(self) -> None:
        if not self._line_too_long:
            super().found_terminator()
            return
        self._line_too_long = False
        if self._idler is not None and not self._idler.cancelled:
            self._idler.reset()
        self.respond_w_warning("500 Command too long.")
