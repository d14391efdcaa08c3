"""Remembered passwords (aaa/passwords.py): only verified ones, keyed by the stored hash,
bounded, and expiring. The clock and the hash check are replaced here (a unit test)."""

from __future__ import annotations

import pytest

from appliance.runtime.aaa import passwords
from appliance.runtime.aaa.passwords import RecentlyVerified, hash_password_scrypt


@pytest.fixture
def checks(monkeypatch) -> list[tuple[str, str]]:
    """Every full check made, with a fresh memory."""
    made: list[tuple[str, str]] = []
    real = passwords._verify

    def counting(stored: str, password: str) -> bool:
        made.append((stored, password))
        return real(stored, password)

    monkeypatch.setattr(passwords, "_verify", counting)
    monkeypatch.setattr(passwords, "RECENTLY_VERIFIED", RecentlyVerified())
    return made


def test_a_verified_password_is_checked_once_then_remembered(checks):
    stored = hash_password_scrypt("s3cret", n=2**10)
    for _ in range(5):
        assert passwords.verify_password(stored, "s3cret", remember_seconds=60)
    assert len(checks) == 1


def test_wrong_passwords_are_always_checked_in_full(checks):
    stored = hash_password_scrypt("s3cret", n=2**10)
    assert passwords.verify_password(stored, "s3cret", remember_seconds=60)
    for _ in range(3):
        assert not passwords.verify_password(stored, "guess", remember_seconds=60)
    assert len(checks) == 4


def test_a_new_hash_misses_even_for_the_same_password(checks):
    first = hash_password_scrypt("s3cret", n=2**10)
    second = hash_password_scrypt("s3cret", n=2**10)  # another salt: another hash
    assert passwords.verify_password(first, "s3cret", remember_seconds=60)
    assert passwords.verify_password(second, "s3cret", remember_seconds=60)
    assert len(checks) == 2


def test_without_remember_seconds_nothing_is_remembered(checks):
    stored = hash_password_scrypt("s3cret", n=2**10)
    for _ in range(3):
        assert passwords.verify_password(stored, "s3cret")
    assert len(checks) == 3


def test_entries_expire_and_the_oldest_go_first(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(passwords.time, "monotonic", lambda: now[0])
    memory = RecentlyVerified(capacity=2)
    memory.add("hash-a", "pw", 10)
    assert memory.contains("hash-a", "pw")
    now[0] += 10
    assert not memory.contains("hash-a", "pw")
    for name in ("hash-b", "hash-c", "hash-d"):
        memory.add(name, "pw", 10)
    assert not memory.contains("hash-b", "pw")
    assert memory.contains("hash-c", "pw") and memory.contains("hash-d", "pw")
