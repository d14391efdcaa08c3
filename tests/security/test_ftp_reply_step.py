"""An overlong FTP command line gets exactly one reply, so later replies stay in step.

The long path-escape run fell out of step (`ftplib.error_reply: 200 Type set to: Binary`)
after paths of 4 000+ bytes: pyftpdlib answered "500 Command too long." and then ran the
rest of the line as a command of its own, a second reply the client never asked for.
"""

from __future__ import annotations

import ftplib
import socket
import time

import pytest

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.security.site import PASSWORDS, security_site

LONG_PATHS = ("x/" * 2100, "../" * 1500, "%2e%2e/" * 700, "a" * 70_000)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with security_site(tmp_path_factory.mktemp("reply-step"), passive=(62580, 62599)) as running:
        yield running


def read_reply(stream) -> bytes:
    """The first line of one reply, reading past the rest of a multi-line one."""
    first = line = stream.readline()
    while not line.startswith(first[:3] + b" "):
        line = stream.readline()
        if not line:
            raise EOFError(f"the server closed after {first!r}")
    return first


@pytest.mark.parametrize("chunks", [1, 3, 40])
def test_overlong_line_in_pieces_gets_one_reply(app, chunks):
    with socket.create_connection(("127.0.0.1", app.port("ftp")), timeout=10) as sock:
        stream = sock.makefile("rb")
        assert read_reply(stream).startswith(b"220")
        line = b"RETR " + b"x/" * 2100 + b"\r\n"
        size = -(-len(line) // chunks)
        for start in range(0, len(line), size):
            sock.sendall(line[start : start + size])
            time.sleep(0.005)
        sock.sendall(b"NOOP\r\n")
        assert read_reply(stream).startswith(b"500 Command too long")
        assert read_reply(stream).startswith(b"200"), "a second reply to the long line"


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_long_paths_keep_ftplib_in_step(app, tls):
    client = ImplicitFTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
    client.connect("127.0.0.1", app.port("ftps" if tls else "ftp"), timeout=10)
    client.login("alice", PASSWORDS["alice"])
    for path in LONG_PATHS:
        for command in ("RETR", "SIZE", "CWD"):
            with pytest.raises(ftplib.error_perm, match="^500 Command too long"):
                client.sendcmd(f"{command} {path}")
            assert client.sendcmd("NOOP").startswith("200")
    assert client.sendcmd("TYPE I") == "200 Type set to: Binary."
    client.quit()
