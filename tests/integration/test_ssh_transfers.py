"""SFTP and SCP against the running appliance with real clients: OpenSSH, curl, paramiko.

Every test checks the bytes on disk and the audit events the transfer left.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import paramiko
import pytest

from tests.helpers import wait_for
from tests.ssh_support import (
    PASSWORD,
    account_section,
    askpass,
    client_key,
    paramiko_client,
    scp,
    sftp_batch,
    ssh_appliance,
)

pytestmark = pytest.mark.skipif(shutil.which("sftp") is None, reason="OpenSSH client missing")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssh")
    key = client_key(root / "client")
    accounts = account_section("alice", key=key)
    with ssh_appliance(root, accounts) as app:
        home = app.home("alice")
        home.mkdir(parents=True, exist_ok=True)
        yield app, key, home, root


@pytest.fixture
def work(site, tmp_path):
    app, key, home, _root = site
    for child in home.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    return app, key, home, tmp_path


def payload(size: int, seed: int = 1) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


def uploaded(app, path: str) -> dict:
    return app.wait_event(20050, lambda e: e["data"]["path"] == path)


def test_sftp_batch_put_get_ls_rename_mkdir_rm(work):
    app, key, home, folder = work
    data = payload(300_000)
    (folder / "report.csv").write_bytes(data)
    result = sftp_batch(
        app.port("sftp"),
        "alice",
        "put report.csv\n"
        "ls -l\n"
        "mkdir Inbox\n"
        "rename report.csv Inbox/report.csv\n"
        "get Inbox/report.csv back.csv\n"
        "put report.csv scratch.csv\n"
        "rm scratch.csv\n"
        "mkdir Empty\n"
        "rmdir Empty\n",
        folder,
        key,
    )
    assert result.returncode == 0, result.stderr
    assert "report.csv" in result.stdout
    assert (home / "Inbox" / "report.csv").read_bytes() == data
    assert (folder / "back.csv").read_bytes() == data
    assert sorted(p.name for p in home.iterdir()) == ["Inbox"]
    event = uploaded(app, "/report.csv")
    assert event["data"]["bytes"] == len(data) and event["account"] == "alice"
    app.wait_event(20055, lambda e: e["data"]["destination"] == "/Inbox/report.csv")
    download = app.wait_event(20052, lambda e: e["data"]["path"] == "/Inbox/report.csv")
    assert download["data"]["bytes"] == len(data)
    app.wait_event(20054, lambda e: e["data"]["path"] == "/scratch.csv")
    app.wait_event(20056, lambda e: e["data"]["path"] == "/Inbox")
    app.wait_event(20057, lambda e: e["data"]["path"] == "/Empty")
    sessions = app.events(30004)
    assert any(e["data"]["kind"] == "sftp" for e in sessions)


def test_sftp_with_password_and_keyboard_interactive(work):
    app, _key, home, folder = work
    (folder / "a.txt").write_bytes(b"by password\n")
    env = askpass(folder)
    for method in ("password", "keyboard-interactive"):
        result = sftp_batch(
            app.port("sftp"),
            "alice",
            f"put a.txt {method}.txt\n",
            folder,
            env=env,
            methods=method,
        )
        assert result.returncode == 0, result.stderr
        assert (home / f"{method}.txt").read_bytes() == b"by password\n"
    logins = [e for e in app.events(20137) if e["data"].get("credential") == "password"]
    assert logins


def test_scp_in_sftp_mode_and_legacy_mode(work):
    app, key, home, folder = work
    data = payload(1_000_000, seed=7)
    (folder / "big.bin").write_bytes(data)
    port = app.port("sftp")
    for legacy, name in ((False, "sftp-mode.bin"), (True, "legacy.bin")):
        up = scp(port, key, str(folder / "big.bin"), f"alice@127.0.0.1:{name}", legacy=legacy)
        assert up.returncode == 0, up.stderr
        assert (home / name).read_bytes() == data
        down = scp(
            port, key, f"alice@127.0.0.1:{name}", str(folder / f"down-{name}"), legacy=legacy
        )
        assert down.returncode == 0, down.stderr
        assert (folder / f"down-{name}").read_bytes() == data
        assert uploaded(app, f"/{name}")["data"]["bytes"] == len(data)
        app.wait_event(20052, lambda e, n=name: e["data"]["path"] == f"/{n}")
    legacy_uploads = [e for e in app.events(20050) if e["data"]["protocol"] == "scp"]
    assert [e["data"]["path"] for e in legacy_uploads] == ["/legacy.bin"]


def test_legacy_scp_recursive_and_preserved_times(work):
    app, key, home, folder = work
    tree = folder / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "one.txt").write_bytes(b"one\n")
    (tree / "sub" / "two.txt").write_bytes(b"two\n")
    old = 1_600_000_000
    os.utime(tree / "one.txt", (old, old))
    port = app.port("sftp")
    up = scp(port, key, "-r", "-p", str(tree), "alice@127.0.0.1:", legacy=True)
    assert up.returncode == 0, up.stderr
    assert (home / "tree" / "sub" / "two.txt").read_bytes() == b"two\n"
    assert int((home / "tree" / "one.txt").stat().st_mtime) == old
    back = folder / "back"
    down = scp(port, key, "-r", "-p", "alice@127.0.0.1:tree", str(back), legacy=True)
    assert down.returncode == 0, down.stderr
    assert (back / "sub" / "two.txt").read_bytes() == b"two\n"
    assert int((back / "one.txt").stat().st_mtime) == old
    app.wait_event(20056, lambda e: e["data"]["path"] == "/tree/sub")
    commands = [e["data"]["command"] for e in app.events(30004) if e["data"]["kind"] == "scp"]
    assert any(" -t " in c for c in commands) and any(" -f " in c for c in commands)


@pytest.mark.skipif(
    "sftp" not in subprocess.run(["curl", "-V"], capture_output=True, text=True).stdout,
    reason="this curl is built without SFTP (libssh2)",
)
def test_curl_sftp_upload_and_download(work):
    app, _key, home, folder = work
    data = payload(200_000, seed=3)
    (folder / "c.bin").write_bytes(data)
    url = f"sftp://127.0.0.1:{app.port('sftp')}/c.bin"
    common = ["curl", "-sS", "--insecure", "--user", f"alice:{PASSWORD}"]
    up = subprocess.run(
        [*common, "-T", str(folder / "c.bin"), url], capture_output=True, timeout=60
    )
    assert up.returncode == 0, up.stderr
    assert (home / "c.bin").read_bytes() == data
    down = subprocess.run(
        [*common, "-o", str(folder / "c2.bin"), url], capture_output=True, timeout=60
    )
    assert down.returncode == 0, down.stderr
    assert (folder / "c2.bin").read_bytes() == data
    uploaded(app, "/c.bin")
    app.wait_event(20052, lambda e: e["data"]["path"] == "/c.bin")


def paramiko_sftp(app, key) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    client = paramiko_client(app, key_filename=str(key.private))
    return client, client.open_sftp()


def test_paramiko_client(work):
    app, key, home, folder = work
    data = payload(500_000, seed=5)
    (folder / "p.bin").write_bytes(data)
    client, sftp = paramiko_sftp(app, key)
    try:
        sftp.mkdir("docs")
        sftp.put(str(folder / "p.bin"), "docs/p.bin")
        assert sftp.stat("docs/p.bin").st_size == len(data)
        sftp.chmod("docs/p.bin", 0o600)
        sftp.utime("docs/p.bin", (1_500_000_000, 1_500_000_000))
        assert sftp.listdir("docs") == ["p.bin"]
        assert sftp.normalize("docs/../docs/./p.bin") == "/docs/p.bin"
        sftp.get("docs/p.bin", str(folder / "p2.bin"))
        with pytest.raises(FileNotFoundError):
            sftp.stat("missing")
        with pytest.raises(OSError):
            sftp.symlink("docs/p.bin", "link")
    finally:
        client.close()
    assert (home / "docs" / "p.bin").read_bytes() == data
    assert (folder / "p2.bin").read_bytes() == data
    assert (home / "docs" / "p.bin").stat().st_mode & 0o777 == 0o600
    assert int((home / "docs" / "p.bin").stat().st_mtime) == 1_500_000_000
    uploaded(app, "/docs/p.bin")
    app.wait_event(20059, lambda e: e["data"]["path"] == "/docs/p.bin")


def test_jail_holds_against_traversal(work):
    app, key, home, folder = work
    client, sftp = paramiko_sftp(app, key)
    try:
        assert sftp.normalize("../../..") == "/"
        with sftp.open("../../../escape.txt", "wb") as stream:
            stream.write(b"inside")
    finally:
        client.close()
    assert (home / "escape.txt").read_bytes() == b"inside"
    assert not (home.parent.parent / "escape.txt").exists()


@pytest.mark.parametrize("legacy_scp", [False, True], ids=["sftp", "scp-legacy"])
def test_upload_is_atomic_when_the_client_dies(work, legacy_scp):
    app, key, home, folder = work
    source = folder / "large.bin"
    with source.open("wb") as stream:
        stream.truncate(64 * 1024 * 1024)
    port = app.port("sftp")
    earlier = {e["uuid"] for e in app.events(20051)}  # the other variant's run shares the home
    if legacy_scp:
        command = [
            "scp",
            "-O",
            "-l",
            "8000",
            *_options(port, key),
            str(source),
            "alice@127.0.0.1:large.bin",
        ]
    else:
        command = ["sftp", "-l", "8000", *_options(port, key), "-b", "-", "alice@127.0.0.1"]
    client = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if not legacy_scp:
        client.stdin.write(f"put {source} large.bin\n".encode())
        client.stdin.flush()

    def partial_upload_growing():
        temporary = [p for p in home.iterdir() if p.name.startswith(".~upload-")]
        return temporary and temporary[0].stat().st_size > 0

    try:
        wait_for(partial_upload_growing, timeout=30)
    finally:
        client.kill()
        client.wait()
    failed = app.wait_event(
        20051, lambda e: e["data"]["path"] == "/large.bin" and e["uuid"] not in earlier
    )
    assert 0 < failed["data"]["bytes"] < 64 * 1024 * 1024
    assert not (home / "large.bin").exists()
    assert not [p for p in home.iterdir() if p.name.startswith(".~upload-")]
    assert not [e for e in app.events(20050) if e["data"]["path"] == "/large.bin"]


def _options(port, key):
    from tests.ssh_support import ssh_options

    return ssh_options(port, key, scp=True)
