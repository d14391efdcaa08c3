"""Helpers for the FTP tests: a standard appliance, ftplib clients, implicit FTPS, checksums."""

from __future__ import annotations

import ftplib
import hashlib
import io
import socket
import ssl
from pathlib import Path

from appliance.runtime.aaa.passwords import hash_password_scrypt

PASSWORD = "correct horse"

FTPS_SERVICES = """
[services/ftps-strict]
type = ftp
address = 127.0.0.1
port = {port}
ftps_require_secured_control = yes
ftps_require_secured_data = yes

[services/ftps-implicit]
type = ftps-implicit
address = 127.0.0.1
port = {port}
"""
"""Explicit FTPS with TLS required, and implicit FTPS."""

SERVICES = (
    """
[services/ftp]
type = ftp
address = 127.0.0.1
port = {port}
passive_port_range = 62100-62139
"""
    + FTPS_SERVICES
    + """
[services/ftp-nat]
type = ftp
address = ::
port = {port}
passive_port_range = 62140-62149
passive_address = 192.0.2.10
maximum_concurrent_connections = 2
"""
)


def reader_account() -> str:
    """An account that may read everywhere but write only under /Inbox."""
    denied = ", ".join(
        f"deny-{operation}"
        for operation in ("write", "delete-file", "rename", "create-folder", "set-attributes")
    )
    return f"""\
[accounts/reader]
groups = users
password = {hash_password_scrypt(PASSWORD, n=2**12)}
permissions = allow-list, allow-read, {denied}
    /Inbox/*, allow-write
"""


def login(port: int, user: str = "alice", host: str = "127.0.0.1") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(host, port, timeout=20)
    client.login(user, PASSWORD)
    client.voidcmd("TYPE I")
    return client


def insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.sock.session
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class ImplicitFTP_TLS(ReusingFTP_TLS):
    """FTPS where TLS starts at connect (ftps-implicit)."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port, self.timeout = host, port, timeout if timeout != -999 else 20
        raw = socket.create_connection((host, port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def upload(client: ftplib.FTP, name: str, data: bytes) -> str:
    return client.storbinary(f"STOR {name}", io.BytesIO(data))


def download(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
