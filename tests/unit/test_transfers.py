"""Client transfers without a network: configuration, the queue's states, schedules, delivery.

Delivery runs between two real local folders; one fake session stands for a destination
that breaks mid-write.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncssh
import pytest

from appliance.config import ConfigError, load_config
from appliance.runtime.transfers.delivery import FOUND_DELIVERED, SENT, deliver
from appliance.runtime.transfers.host_keys import HostKeyError, PinnedHostKey
from appliance.runtime.transfers.local import LocalLocation, LocalSession
from appliance.runtime.transfers.location import FileInfo
from appliance.runtime.transfers.queue import (
    DONE,
    FAILED,
    QUEUED,
    RETRY,
    SENDING,
    TransferQueue,
)
from appliance.runtime.transfers.runner import TransferRunner
from appliance.runtime.transfers.schedule import DailyWindow, retry_delay
from appliance.runtime.transfers.settings import plans

BASE = """
[server]
ssh_server_keys = keys/ssh_host_ed25519_key

[authentications/local]
type = application
"""


def problems(config_dir, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir(BASE + text))
    return [str(problem) for problem in raised.value.problems]


@pytest.fixture
def host_key_line() -> str:
    key = asyncssh.generate_private_key("ssh-ed25519")
    return " ".join(key.export_public_key().decode().split()[:2])


@pytest.fixture
def client_key_file(tmp_path) -> Path:
    path = tmp_path / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(path)
    return path


def sftp_section(host_key: str, key: Path, extra: str = "") -> str:
    return f"""
[locations/partner]
type = sftp
address = 127.0.0.1
username = mft
private_key = {key}
host_key = {host_key}
{extra}
"""


# -- configuration ---------------------------------------------------------------
def test_a_valid_push_and_pull_configuration_loads_with_defaults(
    config_dir, tmp_path, host_key_line, client_key_file
):
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    config = load_config(
        config_dir(
            BASE
            + sftp_section(host_key_line, client_key_file)
            + f"""
[locations/landing]
type = local
path = {tmp_path / "in"}

[transfers/push]
source = {tmp_path / "out"}
destination = partner
destination_path = /inbox/
trigger = event

[transfers/pull]
source = partner
source_path = /outbox
destination = landing
trigger = interval
interval = 60
window = 22:00-06:00
"""
        )
    )
    partner = config.locations["partner"]
    assert (partner["port"], partner["max_connections"], partner["idle_timeout"]) == (22, 2, 60)
    push, pull = plans(config)["push"], plans(config)["pull"]
    assert push.destination_path == "/inbox" and push.temporary_name and push.after == "keep"
    assert push.source == "transfers/push" and pull.source == "partner"
    assert pull.window == DailyWindow.parse("22:00-06:00")


def test_ftps_and_https_locations_are_refused_as_not_supported_yet(config_dir):
    found = problems(config_dir, "[locations/later]\ntype = ftps\n")
    assert any("locations/later:type: type ftps is not supported yet" in p for p in found)
    found = problems(config_dir, "[locations/web]\ntype = https\n")
    assert any("type https is not supported yet; expected local or sftp" in p for p in found)


def test_sftp_needs_a_pinned_host_key_and_never_takes_a_plaintext_password(
    config_dir, client_key_file
):
    text = f"""
[locations/partner]
type = sftp
address = 127.0.0.1
username = mft
private_key = {client_key_file}
password = secret
"""
    found = problems(config_dir, text)
    assert any(":locations/partner:host_key: missing required option" in p for p in found)
    assert any(":locations/partner:password: unknown option" in p for p in found)


def test_host_key_must_be_a_key_line_or_a_sha256_fingerprint(config_dir, client_key_file):
    found = problems(config_dir, sftp_section("ssh-ed25519 AAAAnot-a-key", client_key_file))
    assert any("host_key: 'ssh-ed25519 AAAAnot-a-key' is not a host key" in p for p in found)
    found = problems(config_dir, sftp_section("SHA256:short", client_key_file))
    assert any("is not a SHA256 fingerprint" in p for p in found)


def test_an_sftp_location_needs_a_usable_way_to_log_in(config_dir, tmp_path, host_key_line):
    garbage = tmp_path / "garbage-key"
    garbage.write_text("not a key")
    found = problems(config_dir, sftp_section(host_key_line, garbage))
    assert any("private_key: " in p and "not an unencrypted private key" in p for p in found)
    without = sftp_section(host_key_line, garbage).replace(f"private_key = {garbage}\n", "")
    found = problems(config_dir, without)
    assert any("expected private_key and/or password_file" in p for p in found)


def test_transfer_options_are_checked_together(
    config_dir, tmp_path, host_key_line, client_key_file
):
    text = (
        sftp_section(host_key_line, client_key_file)
        + f"""
[transfers/a]
source = nowhere
destination = partner
trigger = interval
match = m/[/
window = 7-9

[transfers/c]
source = {tmp_path}
destination = ghost
trigger = sometimes
"""
    )
    found = "\n".join(problems(config_dir, text))
    assert "transfers/a:match: regular expression 'm/[/' does not compile" in found
    assert "transfers/a:window: expected a daily window HH:MM-HH:MM" in found
    assert "transfers/c:destination: refers to [locations/ghost], which does not exist" in found
    assert "transfers/c:trigger: value sometimes is not allowed" in found


def test_transfer_cross_checks_name_the_option_and_what_was_expected(
    config_dir, tmp_path, host_key_line, client_key_file
):
    text = (
        sftp_section(host_key_line, client_key_file)
        + f"""
[locations/landing]
type = local
path = {tmp_path / "missing"}

[transfers/a]
source = nowhere
destination = partner
trigger = interval
after = archive

[transfers/b]
source = partner
destination = partner
trigger = event
retry_delay = 100
retry_max_delay = 10
"""
    )
    found = "\n".join(problems(config_dir, text))
    assert "locations/landing:path: " in found and "expected an existing one" in found
    assert "transfers/a:source: 'nowhere' is neither a [locations/<id>]" in found
    assert "transfers/a:interval: trigger = interval needs interval" in found
    assert "transfers/a:archive_path: after = archive needs archive_path" in found
    assert "transfers/b:destination: [locations/partner] is of type sftp and so is" in found
    assert "transfers/b:trigger: trigger = event needs a local source" in found
    assert "transfers/b:retry_max_delay: 10 is below retry_delay" in found


# -- host keys, windows, backoff -------------------------------------------------------
def test_pinned_host_key_matches_its_key_and_only_it():
    key = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    line = key.export_public_key().decode()
    by_line = PinnedHostKey.parse(line)
    by_fingerprint = PinnedHostKey.parse(key.get_fingerprint("sha256"))
    with_host = PinnedHostKey.parse("[sftp.example]:2222 " + line)
    assert with_host.fingerprint == by_line.fingerprint
    for pinned in (by_line, by_fingerprint):
        assert pinned.matches(key.convert_to_public())
        assert not pinned.matches(other.convert_to_public())
    assert by_line.algorithms == [b"ssh-ed25519"] and by_fingerprint.algorithms is None
    with pytest.raises(HostKeyError):
        PinnedHostKey.parse("SHA256:" + "A" * 10)


def test_daily_window_with_and_without_crossing_midnight():
    night, day = DailyWindow.parse("22:00-06:00"), DailyWindow.parse("08:30-17:00")
    assert night.contains(datetime(2026, 1, 1, 23, 0)) and night.contains(datetime(2026, 1, 1, 5))
    assert not night.contains(datetime(2026, 1, 1, 12))
    assert day.contains(datetime(2026, 1, 1, 8, 30)) and not day.contains(datetime(2026, 1, 1, 17))
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        DailyWindow.parse("8-17")


def test_retry_delay_doubles_up_to_its_cap():
    assert [retry_delay(n, 5, 30) for n in range(1, 6)] == [5, 10, 20, 30, 30]


# -- the queue ---------------------------------------------------------------------
def test_queue_states_from_queued_to_done_and_to_failed(tmp_path):
    queue = TransferQueue(tmp_path / "q.db")
    first = queue.enqueue("t", "a.bin", 10, 1.0)
    assert first.state == QUEUED and first.attempts == 0
    assert queue.enqueue("t", "a.bin", 10, 1.0) is None  # the same file is known
    assert queue.enqueue("t", "a.bin", 11, 2.0) is not None  # a new version is queued
    claimed = queue.claim_due("t", 1)
    assert [(r.id, r.state, r.attempts) for r in claimed] == [(first.id, SENDING, 1)]
    assert [r.source_path for r in queue.claim_due("t", 5)] == ["a.bin"]
    assert queue.claim_due("t", 5) == []  # nothing claimed twice
    queue.mark_retry(claimed[0], "down", time.time() + 3600)
    assert queue.claim_due("t", 5) == []  # not due yet
    retried = queue.claim_due("t", 5, now=time.time() + 3601)
    assert retried[0].attempts == 2
    queue.mark_failed(retried[0], "still down")
    assert queue.counts("t")["t"][FAILED] == 1 and queue.counts("t")["t"][SENDING] == 1
    assert queue.files("t", FAILED)[0].last_error == "still down"
    assert queue.retry_failed("t") == 1
    again = queue.claim_due("t", 5)
    assert again[0].attempts == 1
    queue.mark_done(again[0], "digest")
    assert queue.counts()["t"][DONE] == 1
    assert queue.forget("t") == 2 and queue.counts() == {}


def test_queue_survives_a_reopen_and_resumes_what_was_sending(tmp_path):
    queue = TransferQueue(tmp_path / "q.db")
    queue.enqueue("t", "a.bin", 10, 1.0)
    queue.enqueue("u", "b.bin", 10, 1.0)
    queue.claim_due("t", 1)
    queue.claim_due("u", 1)
    queue.close()  # as after a kill: nothing but the committed rows remains
    reopened = TransferQueue(tmp_path / "q.db")
    assert reopened.resume_interrupted(["t"]) == 1
    assert [r.state for r in reopened.files("t")] == [RETRY]
    assert [r.state for r in reopened.files("u")] == [SENDING]
    resumed = reopened.claim_due("t", 1)
    assert resumed[0].attempts == 2  # so delivery looks at the destination first


# -- delivery between two local folders ---------------------------------------------------
def _plan(config_dir, tmp_path, **options: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "dst").mkdir(exist_ok=True)
    lines = "\n".join(f"{key} = {value}" for key, value in options.items())
    config = load_config(
        config_dir(
            BASE
            + f"""
[locations/dst]
type = local
path = {tmp_path / "dst"}

[transfers/t]
source = {tmp_path / "src"}
destination = dst
destination_path = sub
trigger = manual
{lines}
"""
        )
    )
    return plans(config)["t"]


def _sessions(tmp_path):
    return (
        LocalSession(LocalLocation("src", tmp_path / "src")),
        LocalSession(LocalLocation("dst", tmp_path / "dst")),
    )


def test_delivery_sends_through_a_hidden_name_and_archives_after(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path, after="archive", archive_path="done")
    data = b"x" * 3_000_001
    (tmp_path / "src" / "f.bin").write_bytes(data)
    queue = TransferQueue(tmp_path / "q.db")
    queue.enqueue("t", "f.bin", len(data), 1.0)
    record = queue.claim_due("t", 1)[0]
    delivery = asyncio.run(deliver(plan, record, *_sessions(tmp_path)))
    assert delivery.how == SENT and delivery.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "dst" / "sub" / "f.bin").read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "dst" / "sub").iterdir()) == ["f.bin"]
    assert (tmp_path / "src" / "done" / "f.bin").exists()


def test_a_retry_finds_a_file_delivered_before_a_crash_and_does_not_send_it(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path, after="delete")
    (tmp_path / "src" / "f.bin").write_bytes(b"abc")
    (tmp_path / "dst" / "sub").mkdir()
    (tmp_path / "dst" / "sub" / "f.bin").write_bytes(b"abc")
    before = (tmp_path / "dst" / "sub" / "f.bin").stat().st_ino
    queue = TransferQueue(tmp_path / "q.db")
    queue.enqueue("t", "f.bin", 3, 1.0)
    queue.claim_due("t", 1)
    queue.resume_interrupted()
    record = queue.claim_due("t", 1)[0]
    delivery = asyncio.run(deliver(plan, record, *_sessions(tmp_path)))
    assert delivery.how == FOUND_DELIVERED
    assert delivery.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert (tmp_path / "dst" / "sub" / "f.bin").stat().st_ino == before
    assert not (tmp_path / "src" / "f.bin").exists()


class _BreaksMidWrite(LocalSession):
    """A destination that fails after the first chunk, like a connection dropped mid-file."""

    @asynccontextmanager
    async def open_write(self, path: str):
        async with super().open_write(path) as writer:

            class Failing:
                calls = 0

                async def write(self, data: bytes) -> None:
                    Failing.calls += 1
                    if Failing.calls > 1:
                        raise ConnectionResetError("dropped")
                    await writer.write(data)

            yield Failing()


def test_a_broken_send_leaves_nothing_under_the_final_name(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path)
    (tmp_path / "src" / "f.bin").write_bytes(b"y" * 3_000_000)
    queue = TransferQueue(tmp_path / "q.db")
    queue.enqueue("t", "f.bin", 3_000_000, 1.0)
    record = queue.claim_due("t", 1)[0]
    source = LocalSession(LocalLocation("src", tmp_path / "src"))
    broken = _BreaksMidWrite(LocalLocation("dst", tmp_path / "dst"))
    with pytest.raises(ConnectionResetError):
        asyncio.run(deliver(plan, record, source, broken))
    assert list((tmp_path / "dst" / "sub").iterdir()) == []


def test_a_failing_scan_is_one_event_until_a_scan_works_again(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path)
    queue = TransferQueue(tmp_path / "q.db")
    events: list[tuple[int, dict]] = []
    source = LocalLocation(plan.source, tmp_path / "src")
    locations = {plan.source: source, "dst": LocalLocation("dst", tmp_path / "dst")}

    async def scans() -> None:
        runner = TransferRunner(plan, queue, locations, lambda i, c, **d: events.append((i, d)))
        (tmp_path / "src").rmdir()
        await runner._scan_logged()
        await runner._scan_logged()
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "f.bin").write_bytes(b"1")
        await runner._scan_logged()
        (tmp_path / "src" / "f.bin").unlink()
        (tmp_path / "src").rmdir()
        await runner._scan_logged()

    asyncio.run(scans())
    assert [event_id for event_id, _ in events] == [80008, 80001, 80008]
    assert "does not exist" in events[0][1]["error"]


class _HostileListing(LocalSession):
    """A server whose listing names paths, as a hostile SFTP server could."""

    async def list_files(self, folder: str) -> list[FileInfo]:
        names = ["../escape.bin", "sub/inner.bin", "..", "a\\b.bin", "fine.bin"]
        return [FileInfo(name, 1, 1.0) for name in names]


class _HostileLocation(LocalLocation):
    @asynccontextmanager
    async def session(self):
        yield _HostileListing(self)


def test_a_listing_that_names_paths_queues_only_plain_names(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path)
    queue = TransferQueue(tmp_path / "q.db")
    locations = {
        plan.source: _HostileLocation(plan.source, tmp_path / "src"),
        "dst": LocalLocation("dst", tmp_path / "dst"),
    }
    runner = TransferRunner(plan, queue, locations, lambda *a, **k: None)
    assert asyncio.run(runner.scan()) == 1
    assert [record.source_path for record in queue.files("t")] == ["fine.bin"]


def test_failed_attempts_are_retried_then_the_file_fails_with_its_events(config_dir, tmp_path):
    plan = _plan(config_dir, tmp_path, retries="1", retry_delay="0")
    (tmp_path / "src" / "f.bin").write_bytes(b"data")
    (tmp_path / "dst" / "sub").write_text("a file where the destination folder should be")
    queue = TransferQueue(tmp_path / "q.db")
    events: list[int] = []
    locations = {
        plan.source: LocalLocation(plan.source, tmp_path / "src"),
        "dst": LocalLocation("dst", tmp_path / "dst"),
    }
    runner = TransferRunner(
        plan, queue, locations, lambda event_id, *a, **k: events.append(event_id)
    )

    async def run_now() -> None:
        await runner.scan()
        await runner.drain()

    asyncio.run(run_now())
    assert events == [80001, 80002, 80004, 80002, 80005]
    [record] = queue.files("t")
    assert (record.state, record.attempts) == (FAILED, 2)
    assert (tmp_path / "src" / "f.bin").exists()  # a failure never removes the source


def test_the_examples_of_docs_transfers_md_validate(config_dir, tmp_path, host_key_line):
    docs = Path(__file__).resolve().parents[2] / "docs" / "transfers.md"
    blocks = re.findall(r"```ini\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    srv, keys = tmp_path / "srv", tmp_path / "client-keys"
    for folder in ("landing", "outbox/partner-a", "outbox/erp", "from-partner-a", "home"):
        (srv / folder).mkdir(parents=True)
    keys.mkdir()
    for name in ("partner-a", "erp_ed25519"):
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(keys / name)
    text = "\n".join(blocks).replace("/srv/mft", str(srv)).replace("keys/", f"{keys}/")
    text = re.sub(r"host_key = .*", f"host_key = {host_key_line}", text)
    # The pull example defines [locations/landing] again, for a reader who starts there.
    text = text.replace(f"[locations/landing]\ntype = local\npath = {srv}/from-partner-a\n", "")
    text = text.replace("address = 0.0.0.0\nport = 22\n", "address = 127.0.0.1\nport = 2222\n")
    config = load_config(config_dir(BASE + text))
    assert set(config.transfers) == {"to-partner-a", "to-erp", "from-partner-a"}
