"""vsftpd on a free loopback port: the far end of the FTPS client tests, bench/ftp_bench.py's
reference server.

Anonymous login (any password) into a throwaway root whose `up/` folder the `ftp` user may
write, rename in and delete from; explicit (AUTH TLS, required unless `require_tls=False`)
or implicit TLS, data connections resuming the control connection's TLS session (unless
`require_ssl_reuse=False`), with the certificate and key given as one PEM file; with
`client_ca`, a client certificate issued by that CA is required. Needs root (vsftpd
drops to the `ftp` user).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers import free_port, wait_for
from tests.sshd_support import accepts

VSFTPD = "/usr/sbin/vsftpd"

CONFIG = """\
listen=YES
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={root}
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
anon_world_readable_only=NO
local_enable=NO
seccomp_sandbox=NO
xferlog_enable=NO
ssl_enable=YES
implicit_ssl={implicit}
allow_anon_ssl=YES
force_anon_logins_ssl={require_tls}
force_anon_data_ssl={require_tls}
require_ssl_reuse={require_ssl_reuse}
ssl_ciphers=HIGH
rsa_cert_file={pem}
rsa_private_key_file={pem}
secure_chroot_dir=/var/run/vsftpd/empty
vsftpd_log_file={folder}/vsftpd.log
"""


def vsftpd_usable() -> bool:
    return Path(VSFTPD).exists() and hasattr(os, "geteuid") and os.geteuid() == 0


class LoopbackVsftpd:
    """`upload` is the folder the client writes to: `/up` on the server."""

    def __init__(
        self,
        pem: Path,
        *,
        implicit: bool = False,
        require_tls: bool = True,
        require_ssl_reuse: bool = True,
        client_ca: Path | None = None,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vsftpd-"))
        self.folder.chmod(0o755)  # the ftp user reaches its root through it
        self.root = self.folder / "anon"
        self.upload = self.root / "up"
        self.upload.mkdir(parents=True)
        shutil.chown(self.upload, "ftp", "ftp")
        Path("/var/run/vsftpd/empty").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = self.folder / "vsftpd.conf"
        client_certificates = (
            f"require_cert=YES\nvalidate_cert=YES\nca_certs_file={client_ca}\n" if client_ca else ""
        )
        self.config.write_text(
            client_certificates
            + CONFIG.format(
                port=self.port,
                root=self.root,
                implicit="YES" if implicit else "NO",
                require_tls="YES" if require_tls else "NO",
                require_ssl_reuse="YES" if require_ssl_reuse else "NO",
                pem=pem,
                folder=self.folder,
            )
        )
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LoopbackVsftpd:
        self.process = subprocess.Popen(
            [VSFTPD, str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: accepts(self.port), timeout=20)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        shutil.rmtree(self.folder, ignore_errors=True)
