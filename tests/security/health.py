"""Is the appliance still well: a good client per protocol, RSS, no traceback, still running."""

from __future__ import annotations

import asyncio
import base64
import ftplib
import http.client
import io
import time
from dataclasses import dataclass

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.security.escape_ssh import connect as ssh_connect
from tests.security.site import PASSWORDS, rss_bytes

USER = "alice"
PASSWORD = PASSWORDS[USER]


def ftp_works(port: int, tls: bool = False) -> bool:
    """Log in, store a small file, list the folder (never empty: see test_ftps_empty_listing)."""
    client = ImplicitFTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=20)
    client.login(USER, PASSWORD)
    if tls:
        client.prot_p()
    client.storbinary("STOR health.txt", io.BytesIO(b"ok\n"))
    client.nlst()
    client.quit()
    return True


async def _sftp(port: int) -> bool:
    async with await ssh_connect(port, USER, PASSWORD) as conn, conn.start_sftp_client() as sftp:
        await sftp.listdir(".")
    return True


def sftp_works(port: int) -> bool:
    return asyncio.run(_sftp(port))


def http_works(port: int, tls: bool = False) -> bool:
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=insecure_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    conn.request("GET", "/api/session", headers={"authorization": f"Basic {token}"})
    status = conn.getresponse().status
    conn.close()
    return status == 200


def all_serving(app) -> dict[str, bool]:
    """Each service answers a good client (a failure raises, naming the protocol)."""
    return {
        "ftp": ftp_works(app.port("ftp")),
        "ftps": ftp_works(app.port("ftps"), tls=True),
        "sftp": sftp_works(app.port("sftp")),
        "http": http_works(app.port("web")),
        "https": http_works(app.port("webs"), tls=True),
    }


@dataclass
class Watch:
    """The appliance process from the start of a burst: RSS growth, life, log."""

    app: object
    start_rss: int = 0
    peak_rss: int = 0

    def __post_init__(self) -> None:
        self.start_rss = self.peak_rss = rss_bytes(self.app.process.pid)

    def sample(self) -> int:
        rss = rss_bytes(self.app.process.pid)
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def rebase(self) -> None:
        """Measure growth from now on (after a warm-up: allocator arenas, caches, threads)."""
        self.start_rss = self.sample()

    def growth(self, settle: float = 2.0) -> int:
        """Memory kept, not memory in use for a moment: the lowest RSS over `settle` seconds
        (a password check still running for a client that left holds 64 MiB until it ends)."""
        deadline = time.monotonic() + settle
        lowest = self.sample()
        while time.monotonic() < deadline and lowest - self.start_rss >= 0:
            time.sleep(0.2)
            lowest = min(lowest, self.sample())
        return lowest - self.start_rss

    def problems(self) -> list[str]:
        found = []
        if self.app.process.poll() is not None:
            found.append(f"the appliance exited with {self.app.process.returncode}")
        log = (self.app.root / "serve.log").read_text(errors="replace")
        if "Traceback" in log:
            found.append("a Python traceback in the log:\n" + log[log.index("Traceback") :][:3000])
        return found
