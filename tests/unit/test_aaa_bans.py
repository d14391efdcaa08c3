"""Brute-force bans: per address and per account across protocols, growing, allowlist, events."""

from __future__ import annotations

import threading

import pytest

from appliance.runtime.aaa.bans import Bans
from appliance.runtime.aaa.passwords import hash_password
from tests.aaa_support import login, make_aaa

HASH = hash_password("right")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aaa(tmp_path):
    core, bus = make_aaa(
        tmp_path,
        f"""
        [server]
        ban_failures = 3
        ban_window = 60
        ban_duration = 10
        ban_allowlist = 10.9.0.0/16

        [accounts/ann]
        password = {HASH}
        home_folder_path = homes/ann
        permissions = allow-list

        [accounts/bob]
        password = {HASH}
        home_folder_path = homes/bob
        permissions = allow-list
        """,
    )
    clock = Clock()
    core.bans = Bans(core._emit_ban, clock=clock)
    return core, bus, clock


def fail(core, username="ann", address="192.0.2.1", protocol="sftp"):
    return core.authenticate(login(username, "wrong", address=address, protocol=protocol))


def test_address_ban_refuses_before_any_credential_check_then_lifts(aaa):
    core, bus, clock = aaa
    for protocol in ("sftp", "ftp", "https"):  # failures count across protocols
        fail(core, username=f"guess-{protocol}", protocol=protocol)
    ban = bus.last(20024)
    assert ban.data == {"subject": "address 192.0.2.1", "duration": 10, "failures": 3}
    assert not core.connection_allowed("192.0.2.1", "services/sftp")
    assert bus.last(20023).peer == "192.0.2.1"
    result = core.authenticate(login("ann", "right", address="192.0.2.1"))
    assert not result.accepted and result.reason == "the address is banned"
    assert result.method is None
    assert core.connection_allowed("192.0.2.2", "services/sftp")
    clock.now += 10.5
    assert core.connection_allowed("192.0.2.1", "services/sftp")
    assert bus.last(20025).data == {"subject": "address 192.0.2.1"}
    assert core.authenticate(login("ann", "right", address="192.0.2.1")).accepted


def test_ban_duration_doubles_for_a_repeat_offender(aaa):
    core, bus, clock = aaa
    durations = []
    for _ in range(3):
        for _ in range(3):
            fail(core, username="x")
        durations.append(bus.last(20024).data["duration"])
        clock.now += durations[-1] + 1
        core.connection_allowed("192.0.2.1", "t")
    assert durations == [10, 20, 40]


def test_account_ban_from_many_addresses(aaa):
    core, bus, _ = aaa
    for index in range(3):
        fail(core, address=f"198.51.100.{index}")
    assert "account ann" in [e.data["subject"] for e in bus.events if e.id == 20024]
    result = core.authenticate(login("ann", "right", address="203.0.113.9"))
    assert not result.accepted and "account is temporarily banned" in result.reason
    assert core.authenticate(login("bob", "right", address="203.0.113.9")).accepted


def test_failures_outside_the_window_do_not_ban(aaa):
    core, bus, clock = aaa
    fail(core)
    fail(core)
    clock.now += 61
    fail(core)
    assert 20024 not in bus.ids()


def test_success_clears_the_account_count(aaa):
    core, bus, _ = aaa
    fail(core, address="198.51.100.1")
    fail(core, address="198.51.100.2")
    assert core.authenticate(login("ann", "right", address="198.51.100.3")).accepted
    fail(core, address="198.51.100.4")
    assert 20024 not in bus.ids()


def test_allowlisted_addresses_are_never_banned(aaa):
    core, bus, _ = aaa
    for _ in range(10):
        fail(core, address="10.9.1.1")
    assert 20024 not in bus.ids()
    assert core.authenticate(login("ann", "right", address="10.9.1.1")).accepted


def test_ipv4_mapped_ipv6_is_the_same_address(aaa):
    core, _, _ = aaa
    for _ in range(3):
        fail(core, username="z", address="::ffff:192.0.2.50")
    assert not core.connection_allowed("192.0.2.50", "t")


def test_concurrent_failures_ban_exactly_once(aaa):
    core, bus, _ = aaa
    core.bans._emit = lambda event_id, **data: bus.emit(event_id, "aaa", **data)
    barrier = threading.Barrier(8)

    def attack(index: int) -> None:
        barrier.wait()
        core.bans.record_failure("192.0.2.77", f"user{index}", core._ban_settings())

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    address_bans = [e for e in bus.events if e.data.get("subject") == "address 192.0.2.77"]
    assert len(address_bans) == 1
