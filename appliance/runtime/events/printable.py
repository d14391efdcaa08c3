"""One rule for showing untrusted text to a person: control characters become escapes.

Clients choose user names, paths and commands. Printed raw to a terminal or a log viewer,
ESC, BEL, NUL or CR would let them rewrite what the administrator sees. Every human-readable
sink (text log, syslog, the `serve` echo, `appliance events`, Python logging) passes its text
through `printable`; structured copies (SQLite, PostgreSQL, JSON) keep the exact value.
"""

from __future__ import annotations

import logging
import unicodedata

# Line and paragraph separators end a line in many viewers, like CR and LF.
_LINE_BREAKING = {"\u2028", "\u2029"}


def _needs_escape(character: str) -> bool:
    return unicodedata.category(character) == "Cc" or character in _LINE_BREAKING


def _escape(character: str) -> str:
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with C0 and C1 controls, DEL and line separators written as `\\xNN` or `\\uNNNN`."""
    text = str(text)
    if not any(_needs_escape(character) for character in text):
        return text
    return "".join(_escape(c) if _needs_escape(c) else c for c in text)


class PrintableFormatter(logging.Formatter):
    """A logging formatter whose lines cannot carry control characters (tracebacks keep their
    line breaks: they come from the code, and only their messages are escaped line by line)."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))
