"""The canary check itself can fail: a read, a listing, a stat-changing write or a new file."""

from __future__ import annotations

import os

from tests.security.canaries import Canaries


def planted(tmp_path) -> Canaries:
    canaries = Canaries(roots=[tmp_path / "out"], skip=[tmp_path / "out" / "home"])
    canaries.plant([tmp_path / "out" / "secret.txt", tmp_path / "out" / "deep" / "secret.txt"])
    (tmp_path / "out" / "home").mkdir()
    canaries.check()  # the home appeared after planting: rearm
    return canaries


def test_untouched_is_clean(tmp_path):
    canaries = planted(tmp_path)
    os.stat(tmp_path / "out" / "secret.txt")  # a stat changes nothing it could see
    (tmp_path / "out" / "home" / "mine.txt").write_text("inside")
    assert canaries.check() == []
    assert canaries.check() == []


def test_read_listing_write_and_new_file_are_seen(tmp_path):
    canaries = planted(tmp_path)
    (tmp_path / "out" / "secret.txt").read_bytes()
    assert any("secret.txt: atime_ns" in p for p in canaries.check())
    os.listdir(tmp_path / "out" / "deep")
    assert any("deep: atime_ns" in p for p in canaries.check())
    os.chmod(tmp_path / "out" / "deep" / "secret.txt", 0o600)
    assert any("ctime_ns" in p for p in canaries.check())
    (tmp_path / "out" / "dropped").write_text("x")
    assert any("new outside the home" in p for p in canaries.check())
    assert canaries.leaked(f"xx{canaries.token}yy".encode())
