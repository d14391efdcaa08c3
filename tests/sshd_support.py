"""OpenSSH's sshd on a free loopback port, as the current user: the far end of client tests.

A throwaway configuration with its own ed25519 host key, `AuthorizedKeysFile` in the
folder, internal-sftp. Used by the transfer tests and bench/ssh_bench.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from tests.helpers import free_port, wait_for

SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
"""


def sshd_binary() -> str | None:
    return shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/usr/local/sbin")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class LoopbackSshd:
    """`start()` and `stop()` may alternate: the port and the host key stay the same."""

    def __init__(self, folder: Path, public_line: str, port: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host_key = self.folder / "ssh_host_ed25519_key"
        if not self.host_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                check=True,
            )
        (self.folder / "authorized_keys").write_text(public_line + "\n")
        self.config = self.folder / "sshd_config"
        self.config.write_text(
            SSHD_CONFIG.format(port=self.port, host_key=self.host_key, folder=self.folder)
        )
        self.process: subprocess.Popen | None = None

    @property
    def host_key_line(self) -> str:
        """The public host key as `ssh-ed25519 AAAA...`, what a client pins."""
        return " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])

    def start(self) -> LoopbackSshd:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        log = (self.folder / "sshd.log").open("a")
        self.process = subprocess.Popen(
            [sshd_binary(), "-D", "-e", "-f", str(self.config)], stderr=log
        )
        log.close()
        wait_for(lambda: accepts(self.port), timeout=20)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None

    def __enter__(self) -> LoopbackSshd:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
