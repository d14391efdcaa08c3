"""Path escapes against the running appliance over FTP, FTPS, SFTP, SCP and HTTP(S).

Canary files sit outside alice's home (a neighbour's home, the appliance's own folder, a
folder elsewhere), symbolic links planted in her home point at them, and thousands of
hostile paths go through every path-taking command of every protocol. Afterwards nothing
outside the home was read, written, listed or statted (contents and times unchanged, no new
file), and no reply carried a canary's secret. Fast mode: 1 600 attempts; --long: 13 000.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.ftp_helpers import insecure_context
from tests.running import REPO
from tests.security import escape_ftp, escape_http, escape_ssh
from tests.security.canaries import Canaries
from tests.security.hostile_paths import hostile_paths
from tests.security.site import PASSWORDS, security_site
from tests.security.tally import WRITE_MARKER, Leak, Tally

FAST_PER_PROTOCOL = 400
LONG_PER_PROTOCOL = 3000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("escape")
    app = security_site(root, passive=(62300, 62339))
    with app:
        home = app.home("alice")
        escape_ftp.connect(app.port("ftp"), "alice", PASSWORDS["alice"], False).quit()
        outside = root / "outside"
        canaries = Canaries(
            roots=[root],
            skip=[home, app.root / "data", app.root / "serve.log", app.home("bob")],
        )
        canaries.plant(
            [
                outside / "secret.txt",
                outside / "deeper" / "secret.txt",
                app.root / "canary.txt",
                app.root / "files" / "canary.txt",
                app.root / "files" / "carol" / "secret.txt",
            ]
        )
        (home / "sub").mkdir(exist_ok=True)
        (home / "link-out").symlink_to(outside)
        (home / "link-file").symlink_to(outside / "secret.txt")
        (home / "link-up").symlink_to("..")
        (home / "sub" / "link-root").symlink_to("/")
        yield app, canaries, root


def targets(root: Path) -> list[bytes]:
    outside = str(root / "outside" / "secret.txt").encode()
    return [
        b"carol/secret.txt",
        b"canary.txt",
        b"../canary.txt",
        b"../server.ini",
        b"../keys/tls.pem",
        b"../../outside/secret.txt",
        b"../../outside/deeper/secret.txt",
        b"../" * 12 + outside.lstrip(b"/"),
        outside,
    ]


def written_elsewhere(since: float) -> list[str]:
    """Files carrying the attack's payload that appeared in well-known places."""
    found = []
    for folder in (Path("/"), Path("/tmp"), REPO, Path.home()):
        for entry in os.scandir(folder):
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime < since:
                continue
            with open(entry.path, "rb") as stream:
                if stream.read(len(WRITE_MARKER)) == WRITE_MARKER:
                    found.append(entry.path)
    return found


def drive(app, protocol: str, paths: list[bytes], leaked: Leak) -> Tally:
    user, password = "alice", PASSWORDS["alice"]
    if protocol in ("ftp", "ftps"):
        port = app.port(protocol)
        return escape_ftp.run(port, user, password, paths, leaked, tls=protocol == "ftps")
    if protocol == "sftp":
        return asyncio.run(escape_ssh.sftp_run(app.port("sftp"), user, password, paths, leaked))
    if protocol == "scp":
        return asyncio.run(escape_ssh.scp_run(app.port("sftp"), user, password, paths, leaked))
    context = insecure_context() if protocol == "https" else None
    port = app.port("webs" if protocol == "https" else "web")
    return escape_http.run(port, user, password, paths, leaked, context)


def run_protocol(site, protocol: str, count: int, seed: int) -> Tally:
    app, canaries, root = site
    started = time.time()
    paths = list(hostile_paths(targets(root), count, seed))
    tally = drive(app, protocol, paths, canaries.leaked)
    print(tally.summary())
    assert tally.attempts == count
    assert not tally.leaks, f"canary secret in replies: {tally.leaks[:5]}"
    assert not tally.broken, f"answers outside the protocol: {tally.broken[:5]}"
    assert canaries.check() == []
    assert written_elsewhere(started) == []
    assert app.process.poll() is None
    assert "Traceback" not in (app.root / "serve.log").read_text()
    return tally


PROTOCOLS = ("ftp", "sftp", "scp", "http")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_escape(site, protocol):
    run_protocol(site, protocol, FAST_PER_PROTOCOL, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", (*PROTOCOLS, "ftps", "https"))
def test_no_escape_long(site, protocol):
    count = LONG_PER_PROTOCOL if protocol in PROTOCOLS else LONG_PER_PROTOCOL // 6
    run_protocol(site, protocol, count, seed=1011)
