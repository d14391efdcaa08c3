"""A real PostgreSQL 15 server for tests: a private cluster in a temporary folder, loopback port.

initdb refuses to run as root, so under root (CI) the cluster belongs to `nobody` and every
server command runs through `runuser`; its folder lives straight under /tmp, since pytest's
own temporary folders are private to root. The superuser has a password (scram-sha-256), so
the appliance's password_file is exercised too. `stop()` stops it with pg_ctl; the folder is
removed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"
PASSWORD = "lab-password"


def available() -> bool:
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgreSQL:
    """`listen` are the addresses the server listens on (loopback, or a veth address too)."""

    def __init__(
        self, listen: tuple[str, ...] = ("127.0.0.1",), clients: tuple[str, ...] = ("127.0.0.1/32",)
    ):
        self.listen = listen
        self.clients = clients
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="appliance-pg-"))
        self.data = self.folder / "data"
        self.password_file = self.folder / "password"
        self._owner: str | None = "nobody" if os.geteuid() == 0 else None

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self._owner, "--"] if self._owner else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=False, timeout=60
        )

    def start(self) -> PostgreSQL:
        self.password_file.write_text(PASSWORD + "\n")
        if self._owner:
            entry = pwd.getpwnam(self._owner)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            os.chown(self.password_file, entry.pw_uid, entry.pw_gid)
        self.password_file.chmod(0o600)
        done = self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={self.password_file}",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        with (self.data / "pg_hba.conf").open("a") as hba:
            for network in self.clients:
                hba.write(f"host all all {network} scram-sha-256\n")
        options = (
            f"-p {self.port} -k {self.folder} -h {','.join(self.listen)}"
            " -c fsync=on -c max_connections=40 -c shared_buffers=16MB"
        )
        done = self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode:
            log = (self.folder / "server.log").read_text(errors="replace")
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n{log}")
        return self

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=PASSWORD,
            dbname=database,
            autocommit=True,
            sslmode="disable",
        )

    def create_database(self, name: str) -> str:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def resource_ini(self, resource_id: str, database: str, host: str = "127.0.0.1") -> str:
        """A [resources/<id>] section reaching this server (password from its file)."""
        return (
            f"[resources/{resource_id}]\ntype = postgresql\nhost = {host}\nport = {self.port}\n"
            f"database = {database}\nuser = {USER}\npassword_file = {self.password_file}\n"
            "tls = disable\n"
        )

    def __enter__(self) -> PostgreSQL:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
