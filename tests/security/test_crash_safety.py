"""kill -9 during concurrent uploads over FTP, FTPS, SFTP, SCP, HTTP and HTTPS, then restart.

No file under a final name is partial (each name has one known content), every upload a
client saw acknowledged is on disk and has its 20050 record, and the audit database passes
PRAGMA integrity_check. The appliance then serves again.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import os
import signal
import sqlite3
import threading

import pytest

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.helpers import wait_for
from tests.security.escape_http import Client
from tests.security.escape_ssh import connect as ssh_connect
from tests.security.health import all_serving
from tests.security.site import PASSWORDS, security_site

USER, PASSWORD = "alice", PASSWORDS["alice"]
PROTOCOLS = ("ftp", "ftps", "sftp", "scp", "http", "https")
ACKED_BEFORE_KILL = 3


def content(name: str) -> bytes:
    """The one content a name may have: 32 KiB to about 1.5 MiB, derived from the name."""
    digest = hashlib.sha256(name.encode()).digest()
    size = 32 * 1024 + int.from_bytes(digest[:4], "big") % (1536 * 1024)
    return hashlib.shake_256(name.encode()).digest(size)


class Uploader(threading.Thread):
    """Uploads new files over one protocol until the connection breaks; records the acks."""

    def __init__(self, app, protocol: str) -> None:
        super().__init__(daemon=True)
        self.app, self.protocol = app, protocol
        self.acked: list[str] = []
        self.error: BaseException | None = None

    def names(self):
        count = 0
        while True:
            count += 1
            yield f"{self.protocol}-{count}.bin"

    def run(self) -> None:
        try:
            if self.protocol in ("sftp", "scp"):
                asyncio.run(self._ssh())
            elif self.protocol in ("ftp", "ftps"):
                self._ftp()
            else:
                self._http()
        except BaseException as error:  # the kill ends every client with some error
            self.error = error

    def _ftp(self) -> None:
        tls = self.protocol == "ftps"
        client = ImplicitFTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
        client.connect("127.0.0.1", self.app.port(self.protocol), timeout=30)
        client.login(USER, PASSWORD)
        if tls:
            client.prot_p()
        for name in self.names():
            client.storbinary(f"STOR {name}", io.BytesIO(content(name)))
            self.acked.append(name)

    async def _ssh(self) -> None:
        async with await ssh_connect(self.app.port("sftp"), USER, PASSWORD) as conn:
            sftp = await conn.start_sftp_client()
            for name in self.names():
                if self.protocol == "sftp":
                    async with sftp.open(name, "wb") as handle:
                        await handle.write(content(name))
                else:
                    process = await conn.create_process(f"scp -t {name}", encoding=None)
                    data = content(name)
                    process.stdin.write(f"C0644 {len(data)} {name}\n".encode() + data + b"\0")
                    process.stdin.write_eof()
                    output = await process.stdout.read()
                    await process.wait_closed()
                    if output != b"\0\0\0":
                        raise RuntimeError(f"scp answered {output!r}")
                self.acked.append(name)

    def _http(self) -> None:
        tls = insecure_context() if self.protocol == "https" else None
        client = Client(self.app.port("webs" if tls else "web"), USER, PASSWORD, tls)
        for name in self.names():
            status, _, _ = client.request("PUT", f"/api/files/{name}", content(name))
            if status != 201:
                raise RuntimeError(f"PUT answered {status}")
            self.acked.append(name)


def integrity(database) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.parametrize("round_", range(2))
def test_kill_during_uploads(tmp_path, round_):
    app = security_site(tmp_path, passive=(62460, 62499))
    app.start()
    uploaders = [Uploader(app, protocol) for protocol in PROTOCOLS]
    for uploader in uploaders:
        uploader.start()
    wait_for(lambda: all(len(u.acked) >= ACKED_BEFORE_KILL + round_ for u in uploaders), 120)
    os.kill(app.process.pid, signal.SIGKILL)
    app.process.wait()
    for uploader in uploaders:
        uploader.join(60)
    acked = {name for uploader in uploaders for name in uploader.acked}
    app.stop()

    started = len(app.events(20076))
    app.start()
    wait_for(lambda: len(app.events(20076)) >= started + 5, 60)
    assert integrity(app.database) == "ok"
    home = app.home("alice")
    final = [path for path in home.iterdir() if not path.name.startswith(".~")]
    partial = [path.name for path in final if path.read_bytes() != content(path.name)]
    assert partial == []
    assert acked <= {path.name for path in final}
    recorded = {event["data"]["path"].lstrip("/") for event in app.events(20050)}
    assert acked <= recorded, sorted(acked - recorded)
    assert all(all_serving(app).values())
    assert "Traceback" not in (app.root / "serve.log").read_text()
    app.stop()
    print(f"killed after {len(acked)} acknowledged uploads; {len(final)} files stored")
