"""Client transfers end to end: the real appliance pushes to and pulls from a real OpenSSH sshd.

The sshd runs on a free loopback port as the current user, with its own host key and the
appliance's client key in its authorized_keys. Outcomes are polled from the audit database
with generous deadlines; nothing asserts on durations.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from appliance.runtime.transfers.location import is_temporary
from appliance.runtime.transfers.queue import SENDING, TransferQueue, queue_path
from tests.helpers import free_port, wait_for
from tests.running import REPO, RunningAppliance
from tests.ssh_support import (
    PASSWORD,
    ClientKey,
    account_section,
    client_key,
    paramiko_client,
)
from tests.sshd_support import LoopbackSshd, sshd_binary

pytestmark = pytest.mark.skipif(
    sshd_binary() is None or sys.platform == "win32", reason="needs OpenSSH's sshd"
)

SERVICES = """
[services/sftp]
type = ssh
address = 127.0.0.1
port = {port}
"""
DEADLINE = 90


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hidden_leftovers(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if is_temporary(path.name)]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sshd")
    key = client_key(folder / "client")
    server = LoopbackSshd(folder / "server", key.public_line).start()
    server.client_key = key
    yield server
    server.stop()


def sftp_location(server: LoopbackSshd, key: ClientKey, host_key: str | None = None) -> str:
    return textwrap.dedent(f"""\
        [locations/partner]
        type = sftp
        address = 127.0.0.1
        port = {server.port}
        username = {getpass.getuser()}
        private_key = {key.private}
        host_key = {host_key or server.host_key_line}
        connect_timeout = 10
        idle_timeout = 5
        """)


def push_setup(
    tmp_path: Path,
    server: LoopbackSshd,
    key: ClientKey,
    host_key: str | None = None,
    **options: object,
) -> tuple[Path, Path, str]:
    """A local outbox, the remote folder and the INI text of a push of one to the other."""
    outbox, remote = tmp_path / "outbox", tmp_path / "remote-inbox"
    outbox.mkdir()
    remote.mkdir()
    extra = sftp_location(server, key, host_key) + transfer(
        source=outbox, destination="partner", destination_path=remote, **options
    )
    return outbox, remote, extra


def transfer(name: str = "push", **options: object) -> str:
    lines = [f"[transfers/{name}]"] + [f"{key} = {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def appliance(tmp_path: Path, extra: str, accounts: str = "") -> RunningAppliance:
    return RunningAppliance(tmp_path, SERVICES, extra=accounts + "\n" + extra)


def completed(app: RunningAppliance, name: str, how: str | None = None) -> dict:
    return app.wait_event(
        80003,
        lambda e: (
            e["data"]["source"].endswith("/" + name) and (how is None or e["data"]["how"] == how)
        ),
        timeout=DEADLINE,
    )


def transfers_cli(app: RunningAppliance, *args: str) -> subprocess.CompletedProcess:
    """`appliance transfers ARGS -c` the appliance's configuration, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "appliance", "transfers", *args, "-c", str(app.root)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def upload_as_alice(app: RunningAppliance, path: str, data: bytes) -> None:
    """Through the appliance's own SFTP service, as a partner would."""
    client = paramiko_client(app, password=PASSWORD)
    try:
        with client.open_sftp() as sftp, sftp.open(path, "wb") as handle:
            handle.write(data)
    finally:
        client.close()


def test_push_to_sftp_with_key_and_pinned_host_key_then_archive(tmp_path, sshd):
    outbox, remote, extra = push_setup(
        tmp_path,
        sshd,
        sshd.client_key,
        match="*.bin",
        trigger="interval",
        interval=1,
        after="archive",
        archive_path="sent",
        retry_delay=1,
    )
    with appliance(tmp_path, extra) as app:
        data = os.urandom(5 * 1024 * 1024 + 7)
        (outbox / "ignored.txt").write_text("not matched")
        (outbox / "big.bin").write_bytes(data)
        event = completed(app, "big.bin")
        delivered = remote / "big.bin"
        assert sha256(delivered) == hashlib.sha256(data).hexdigest() == event["data"]["sha256"]
        assert event["data"]["bytes"] == len(data)
        assert event["data"]["how"] == "sent"
        assert (outbox / "sent" / "big.bin").read_bytes() == data
        assert not (outbox / "big.bin").exists()
        assert (outbox / "ignored.txt").exists()
        assert not (remote / "ignored.txt").exists()
        assert hidden_leftovers(remote) == []
        assert app.events(80006, 80007, 80005) == []


def test_pull_from_sftp_into_a_local_location_then_delete(tmp_path, sshd):
    remote, pulled = tmp_path / "remote-outbox", tmp_path / "pulled"
    remote.mkdir()
    pulled.mkdir()
    (remote / "report.csv").write_bytes(b"a,b\n" * 100_000)
    (remote / "notes.txt").write_text("stays")
    extra = (
        sftp_location(sshd, sshd.client_key)
        + f"\n[locations/landing]\ntype = local\npath = {pulled}\n\n"
        + transfer(
            "pull",
            source="partner",
            source_path=remote,
            destination="landing",
            match="*.csv",
            trigger="interval",
            interval=1,
            after="delete",
        )
    )
    with appliance(tmp_path, extra) as app:
        event = completed(app, "report.csv")
        assert (pulled / "report.csv").read_bytes() == b"a,b\n" * 100_000
        assert event["data"]["sha256"] == sha256(pulled / "report.csv")
        wait_for(lambda: not (remote / "report.csv").exists(), timeout=DEADLINE)
        assert (remote / "notes.txt").exists()
        assert not (pulled / "notes.txt").exists()
        assert hidden_leftovers(pulled) == []


def test_a_wrong_pinned_host_key_is_refused_and_nothing_is_sent(tmp_path, sshd):
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    outbox, remote, extra = push_setup(
        tmp_path,
        sshd,
        sshd.client_key,
        host_key=" ".join(impostor.split()[:2]),
        trigger="interval",
        interval=1,
        retries=0,
    )
    with appliance(tmp_path, extra) as app:
        (outbox / "secret.bin").write_bytes(b"secret" * 1000)
        refused = app.wait_event(80006, timeout=DEADLINE)
        failed = app.wait_event(80005, timeout=DEADLINE)
        assert refused["data"]["location"] == "partner"
        assert refused["data"]["presented"] != refused["data"]["expected"]
        assert "host key" in failed["data"]["error"]
        assert list(remote.iterdir()) == []
        assert app.events(80003) == []
    status = transfers_cli(app, "status")
    assert "failed 1" in status.stdout and "secret.bin" in status.stdout


def test_remote_down_when_the_file_arrives_is_delivered_after_a_retry(tmp_path, sshd):
    later = LoopbackSshd(tmp_path / "later-sshd", sshd.client_key.public_line)
    outbox, remote, extra = push_setup(
        tmp_path,
        later,
        sshd.client_key,
        trigger="interval",
        interval=1,
        retries=100,
        retry_delay=1,
        retry_max_delay=1,
    )
    with appliance(tmp_path, extra) as app:
        (outbox / "late.bin").write_bytes(b"late" * 50_000)
        app.wait_event(80004, timeout=DEADLINE)
        assert list(remote.iterdir()) == []
        with later:
            event = completed(app, "late.bin")
        assert event["data"]["attempt"] > 1
        assert (remote / "late.bin").read_bytes() == b"late" * 50_000


def test_a_file_uploaded_over_the_appliances_sftp_service_is_pushed(tmp_path, sshd):
    remote = tmp_path / "remote-inbox"
    source = tmp_path / "appliance" / "files" / "alice" / "outbox"
    source.mkdir(parents=True)
    extra = sftp_location(sshd, sshd.client_key) + transfer(
        source=source,
        destination="partner",
        destination_path=remote,
        trigger="event",
        after="delete",
    )
    with appliance(tmp_path, extra, accounts=account_section("alice")) as app:
        upload_as_alice(app, "/outbox/order.xml", b"<order/>" * 10_000)
        event = completed(app, "order.xml")
        assert (remote / "order.xml").read_bytes() == b"<order/>" * 10_000
        assert event["data"]["sha256"] == sha256(remote / "order.xml")
        wait_for(lambda: not (source / "order.xml").exists(), timeout=DEADLINE)


def test_a_crash_after_the_remote_rename_does_not_send_the_file_twice(tmp_path, sshd):
    """The queue says `sending` (a crash), the file is already under its final remote name."""
    outbox, remote = tmp_path / "outbox", tmp_path / "remote-inbox"
    outbox.mkdir()
    remote.mkdir()
    renamed, interrupted = outbox / "renamed.bin", outbox / "interrupted.bin"
    renamed.write_bytes(os.urandom(300_000))
    interrupted.write_bytes(os.urandom(200_000))
    (remote / "renamed.bin").write_bytes(renamed.read_bytes())  # the rename had happened
    (remote / ".transfer-push-2.part").write_bytes(interrupted.read_bytes()[:1000])  # that one not
    before = (remote / "renamed.bin").stat()
    extra = sftp_location(sshd, sshd.client_key) + transfer(
        source=outbox, destination="partner", destination_path=remote, trigger="manual"
    )
    app = appliance(tmp_path, extra)
    app.write_config()
    queue = TransferQueue(queue_path(app.root / "data"))
    for path in (renamed, interrupted):
        stat = path.stat()
        queue.enqueue("push", path.name, stat.st_size, stat.st_mtime)
    assert [r.state for r in queue.claim_due("push", 10)] == [SENDING, SENDING]
    queue.close()
    with app:
        found = completed(app, "renamed.bin")
        sent = completed(app, "interrupted.bin")
    assert found["data"]["how"] == "found-delivered"
    assert found["data"]["sha256"] == sha256(renamed)
    after = (remote / "renamed.bin").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sent["data"]["how"] == "sent"
    assert sha256(remote / "interrupted.bin") == sha256(interrupted)
    assert hidden_leftovers(remote) == []


def test_kill_9_during_a_large_push_delivers_it_once_and_complete(tmp_path, sshd):
    outbox, remote, extra = push_setup(
        tmp_path,
        sshd,
        sshd.client_key,
        trigger="interval",
        interval=1,
        retry_delay=1,
    )
    big = outbox / "large.bin"
    big.write_bytes(os.urandom(64 * 1024 * 1024))
    app = appliance(tmp_path, extra).start()
    try:
        app.wait_event(80002, timeout=DEADLINE)
        app.process.send_signal(signal.SIGKILL)
        app.process.wait(30)
    finally:
        app.stop()
    final = remote / "large.bin"
    if final.exists():  # whatever the moment of the kill, never a partial final file
        assert sha256(final) == sha256(big)
    with app:
        wait_for(lambda: _queue_settled(app), timeout=DEADLINE)
    completions = app.events(80003)
    assert len([e for e in completions if e["data"]["how"] == "sent"]) <= 1
    assert sha256(final) == sha256(big)
    assert hidden_leftovers(remote) == []


def _queue_settled(app: RunningAppliance) -> bool:
    queue = TransferQueue(queue_path(app.root / "data"))
    try:
        return [record.state for record in queue.files("push")] == ["done"]
    finally:
        queue.close()


def test_cli_run_retry_status_and_forget_with_the_appliance_stopped(tmp_path, sshd):
    later = LoopbackSshd(tmp_path / "later-sshd", sshd.client_key.public_line)
    outbox, remote = tmp_path / "outbox", tmp_path / "remote-inbox"
    outbox.mkdir()
    (outbox / "manual.bin").write_bytes(b"m" * 12345)
    extra = sftp_location(later, sshd.client_key) + transfer(
        source=outbox, destination="partner", destination_path=remote, trigger="manual", retries=0
    )
    app = appliance(tmp_path, extra)
    app.write_config()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return transfers_cli(app, *args)

    assert "push:" in cli("list").stdout
    down = cli("run", "push")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "failed 1" in cli("status", "push").stdout
    assert "1 failed files queued again" in cli("retry", "push").stdout
    with later:
        up = cli("run", "push")
    assert up.returncode == 0, up.stdout + up.stderr
    assert (remote / "manual.bin").read_bytes() == b"m" * 12345
    assert "done 1" in cli("status").stdout
    assert "1 queue records dropped" in cli("forget", "push").stdout
    unknown = cli("run", "nope")
    assert unknown.returncode == 1 and "no [transfers/nope]" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_dmz_flow_inbox_dispatched_to_outbox_then_pushed(tmp_path, sshd):
    """docs/transfers.md's example: upload to /Inbox, the dispatcher moves, a transfer pushes."""
    outbox, remote = tmp_path / "outbox", tmp_path / "internal-inbox"
    outbox.mkdir()
    inbox = tmp_path / "appliance" / "files" / "alice" / "Inbox"
    inbox.mkdir(parents=True)
    extra = (
        textwrap.dedent(f"""\
        [event-handlers/dispatch]
        type = file-dispatcher
        dispatch_rules = move, /Inbox/*.csv, {outbox}

        """)
        + sftp_location(sshd, sshd.client_key)
        + transfer(
            "internal",
            source=outbox,
            destination="partner",
            destination_path=remote,
            match="*.csv",
            trigger="event",
            after="archive",
            archive_path="sent",
        )
    )
    with appliance(tmp_path, extra, accounts=account_section("alice")) as app:
        upload_as_alice(app, "/Inbox/ledger.csv", b"1;2;3\n" * 50_000)
        completed(app, "ledger.csv")
        assert (remote / "ledger.csv").read_bytes() == b"1;2;3\n" * 50_000
        wait_for(lambda: (outbox / "sent" / "ledger.csv").exists(), timeout=DEADLINE)
        assert not (inbox / "ledger.csv").exists()


def test_a_transfer_added_by_a_reload_starts_working(tmp_path, sshd):
    outbox, remote = tmp_path / "outbox", tmp_path / "remote-inbox"
    outbox.mkdir()
    (outbox / "waiting.bin").write_bytes(b"w" * 4096)
    app = appliance(tmp_path, "")
    with app:
        app.extra += sftp_location(sshd, sshd.client_key) + transfer(
            source=outbox, destination="partner", destination_path=remote, trigger="event"
        )
        app.write_config()
        app.reload()
        app.wait_event(20080, timeout=DEADLINE)
        completed(app, "waiting.bin")  # found by the scan a new event transfer starts with
        assert (remote / "waiting.bin").read_bytes() == b"w" * 4096


def test_a_login_refused_by_the_server_is_reported_and_nothing_is_sent(tmp_path, sshd):
    stranger = client_key(tmp_path / "stranger")  # not in the sshd's authorized_keys
    outbox, remote, extra = push_setup(
        tmp_path, sshd, stranger, trigger="interval", interval=1, retries=0
    )
    with appliance(tmp_path, extra) as app:
        (outbox / "x.bin").write_bytes(b"x" * 100)
        refused = app.wait_event(80007, timeout=DEADLINE)
        app.wait_event(80005, timeout=DEADLINE)
        assert refused["data"]["username"] == getpass.getuser()
        assert list(remote.iterdir()) == []


def test_push_with_a_password_file_to_another_appliance(tmp_path):
    """The far end is the appliance's own SFTP service: password login, its own rename."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    password_file = tmp_path / "alice.pw"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    app = appliance(tmp_path, "", accounts=account_section("alice"))
    app.ports["sftp"] = free_port()
    app.write_config()
    host_key = (app.root / "keys" / "ssh_host_ed25519_key.pub").read_text()
    app.extra += textwrap.dedent(f"""
        [locations/peer]
        type = sftp
        address = 127.0.0.1
        port = {app.port("sftp")}
        username = alice
        password_file = {password_file}
        host_key = {host_key.strip()}

        """) + transfer(
        source=outbox, destination="peer", destination_path="incoming", trigger="event"
    )
    (outbox / "hello.txt").write_bytes(b"hello " * 1000)
    with app:
        event = completed(app, "hello.txt")
        delivered = app.home("alice") / "incoming" / "hello.txt"
        assert delivered.read_bytes() == b"hello " * 1000
        assert event["data"]["sha256"] == sha256(delivered)
        assert hidden_leftovers(delivered.parent) == []
        assert app.events(20050)  # the far end recorded the upload as its own


def test_a_pull_from_a_missing_remote_folder_is_reported(tmp_path, sshd):
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    extra = (
        sftp_location(sshd, sshd.client_key)
        + f"\n[locations/landing]\ntype = local\npath = {pulled}\n\n"
        + transfer(
            "pull",
            source="partner",
            source_path=tmp_path / "no-such-folder",
            destination="landing",
            trigger="interval",
            interval=1,
        )
    )
    with appliance(tmp_path, extra) as app:
        event = app.wait_event(80008, timeout=DEADLINE)
        assert "does not exist" in event["data"]["error"]
        assert event["data"]["transfer"] == "pull"


def test_files_in_a_row_reuse_one_idle_connection(tmp_path, sshd):
    logins = _logins(sshd)
    outbox, remote, extra = push_setup(
        tmp_path, sshd, sshd.client_key, trigger="manual", max_parallel=1
    )
    extra = extra.replace("idle_timeout = 5", "idle_timeout = 600")
    for index in range(3):
        (outbox / f"f{index}.bin").write_bytes(b"r" * 1000)
    app = appliance(tmp_path, extra)
    app.write_config()
    run = transfers_cli(app, "run", "push")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(path.name for path in remote.iterdir()) == ["f0.bin", "f1.bin", "f2.bin"]
    assert _logins(sshd) == logins + 1


def _logins(server: LoopbackSshd) -> int:
    return (server.folder / "sshd.log").read_text().count("Accepted publickey")
