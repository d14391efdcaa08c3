"""A real OpenLDAP slapd for tests, on free loopback ports (recipe: LAB-RECIPES.md)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.lab_pki import CA

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "adminpw"
PEOPLE = f"ou=people,{SUFFIX}"
# The directory's root and its people folder: what every LDAP test adds first.
BASE_ENTRIES = f"""
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people
"""


def available() -> bool:
    return Path(SLAPD).exists() and shutil.which("ldapadd") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"slapd did not listen on {port}")


class Slapd:
    """slapd with plain LDAP (StartTLS capable) and LDAPS; `stop()` kills it by its PID."""

    def __init__(self, folder: Path, ca: CA) -> None:
        self.folder = folder
        self.ca_file = folder / "ca.crt"
        self.ca_file.write_bytes(ca.pem)
        self.cert_file, self.key_file = ca.issue("localhost").write(folder, "tls")
        self.port, self.tls_port = free_port(), free_port()
        (folder / "db").mkdir()
        (folder / "slapd.conf").write_text(
            f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {self.cert_file}
TLSCertificateKeyFile {self.key_file}
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {folder}/db
index objectClass eq
index uid eq
index member eq
"""
        )

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def start(self) -> None:
        subprocess.run(
            [
                SLAPD,
                "-h",
                f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/",
                "-f",
                str(self.folder / "slapd.conf"),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        _wait_for_port(self.port)
        _wait_for_port(self.tls_port)

    def add(self, ldif: str) -> None:
        subprocess.run(
            ["ldapadd", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )

    def stop(self) -> None:
        pid_file = self.folder / "slapd.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
