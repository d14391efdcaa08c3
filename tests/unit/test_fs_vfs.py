"""The virtual filesystem: operations, permissions, events, atomic uploads and resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.runtime.aaa.identity import Account
from appliance.runtime.aaa.permissions import Permissions
from appliance.runtime.fs import (
    AlreadyExists,
    FSError,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotEmpty,
    NotFound,
    PermissionDenied,
    VirtualFS,
)
from tests.aaa_support import RecordingBus


def make_fs(home: Path, lines=("allow-full-control",), amend=None):
    home.mkdir(parents=True, exist_ok=True)
    account = Account(
        name="ann",
        home_folder=Path(os.path.realpath(home)),
        groups=(),
        permissions=Permissions("ann", list(lines)),
        amend_write_name=amend,
        method="local",
    )
    bus = RecordingBus()
    return VirtualFS(account, bus, protocol="sftp", peer="127.0.0.1:4000", component="t"), bus


def visible(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def upload(fs: VirtualFS, path: str, data: bytes, **kw) -> str:
    handle = fs.open_write(path, **kw)
    handle.write(data)
    return handle.commit()


def test_normalize(tmp_path):
    fs, _ = make_fs(tmp_path / "h")
    assert fs.normalize("a/b", "/x") == "/x/a/b"
    assert fs.normalize("../../../etc/passwd", "/x") == "/etc/passwd"
    assert fs.normalize("/a/./b//c/") == "/a/b/c"
    assert fs.normalize("") == "/"


def test_upload_is_invisible_until_commit_and_durable_event_after(tmp_path):
    home = tmp_path / "h"
    fs, bus = make_fs(home)
    handle = fs.open_write("/report.csv")
    handle.write(b"a,b\n")
    assert not (home / "report.csv").exists()
    assert [info.name for info in fs.list("/")] == []
    assert handle.temporary_path.parent == Path(os.path.realpath(home))
    assert handle.commit() == "/report.csv"
    assert (home / "report.csv").read_bytes() == b"a,b\n"
    assert visible(home) == ["report.csv"]
    event = bus.last(20050)
    assert event.data["path"] == "/report.csv" and event.data["bytes"] == 4
    assert event.account == "ann" and event.type.durable


def test_abort_leaves_nothing_and_keeps_the_old_file(tmp_path):
    home = tmp_path / "h"
    fs, bus = make_fs(home)
    upload(fs, "/a.txt", b"old")
    handle = fs.open_write("/a.txt")
    handle.write(b"new partial")
    handle.abort("client went away")
    assert visible(home) == ["a.txt"]
    assert (home / "a.txt").read_bytes() == b"old"
    assert bus.last(20051).data["reason"] == "client went away"
    with pytest.raises(FSError):
        handle.write(b"more")


def test_context_manager_without_commit_aborts(tmp_path):
    home = tmp_path / "h"
    fs, bus = make_fs(home)
    with pytest.raises(RuntimeError), fs.open_write("/x.bin") as handle:
        handle.write(b"x")
        raise RuntimeError("boom")
    assert visible(home) == []
    assert bus.last(20051).data["reason"] == "boom"


def test_append_copies_the_old_content_first(tmp_path):
    home = tmp_path / "h"
    fs, _ = make_fs(home)
    upload(fs, "/log.txt", b"one\n")
    upload(fs, "/log.txt", b"two\n", append=True)
    assert (home / "log.txt").read_bytes() == b"one\ntwo\n"
    upload(fs, "/new.txt", b"first", append=True)
    assert (home / "new.txt").read_bytes() == b"first"


def test_resume_from_a_kept_partial_never_under_the_final_name(tmp_path):
    home = tmp_path / "h"
    fs, _ = make_fs(home)
    handle = fs.open_write("/big.bin")
    handle.write(b"0123456789")
    handle.abort("connection lost", keep_partial=True)
    assert not (home / "big.bin").exists()
    assert [info.name for info in fs.list("/")] == []
    assert fs.resumable_size("/big.bin") == 10
    handle = fs.open_write("/big.bin", offset=6)
    handle.write(b"6789ABC")
    assert not (home / "big.bin").exists()
    handle.commit()
    assert (home / "big.bin").read_bytes() == b"0123456789ABC"
    assert visible(home) == ["big.bin"]
    assert fs.resumable_size("/big.bin") == 0


def test_resume_from_the_stored_file_and_beyond_its_end(tmp_path):
    home = tmp_path / "h"
    fs, _ = make_fs(home)
    upload(fs, "/f", b"abcdef")
    upload(fs, "/f", b"XY", offset=3)
    assert (home / "f").read_bytes() == b"abcXY"
    with pytest.raises(FSError, match="only 5 bytes"):
        fs.open_write("/f", offset=99)
    assert visible(home) == ["f"]


def test_write_at_random_offsets(tmp_path):
    home = tmp_path / "h"
    fs, _ = make_fs(home)
    handle = fs.open_write("/r")
    handle.write_at(4, b"4567")
    handle.write_at(0, b"0123")
    handle.commit()
    assert (home / "r").read_bytes() == b"01234567"


def test_uuid_prefix(tmp_path):
    home = tmp_path / "h"
    fs, bus = make_fs(home, amend="uuid-prefix")
    fs.mkdir("/in")
    handle = fs.open_write("/in/REPORT.CSV")
    handle.write(b"x")
    final = handle.commit()
    name = final.rsplit("/", 1)[1]
    assert final.startswith("/in/") and name.endswith("-REPORT.CSV") and len(name) == 36 + 11
    assert (home / "in" / name).read_bytes() == b"x"
    assert not (home / "in" / "REPORT.CSV").exists()
    assert bus.last(20050).data["path"] == final
    assert handle.final_real_path == Path(os.path.realpath(home)) / "in" / name


def test_uuid_prefix_keeps_the_chosen_name_within_the_session(tmp_path):
    home = tmp_path / "h"
    fs, _ = make_fs(home, amend="uuid-prefix")
    upload(fs, "/REPORT.CSV", b"12345")
    assert fs.stat("/REPORT.CSV").size == 5
    assert [info.name for info in fs.list("/")] == ["REPORT.CSV"]
    with fs.open_read("/REPORT.CSV") as reader:
        assert reader.read(10) == b"12345"
    stored = [p.name for p in home.iterdir()]
    assert len(stored) == 1 and stored[0].endswith("-REPORT.CSV")
    later, _ = make_fs(home, amend="uuid-prefix")  # another session sees the stored name
    assert [info.name for info in later.list("/")] == stored
    with pytest.raises(NotFound):
        later.stat("/REPORT.CSV")


def test_download_events(tmp_path):
    fs, bus = make_fs(tmp_path / "h")
    upload(fs, "/d.txt", b"hello world")
    with fs.open_read("/d.txt", offset=6) as handle:
        assert handle.read(100) == b"world"
        assert handle.real_path.name == "d.txt"
    assert bus.last(20052).data["bytes"] == 5
    handle = fs.open_read("/d.txt")
    handle.read(2)
    handle.close(completed=False, reason="reset")
    failed = bus.last(20053).data
    assert (failed["path"], failed["bytes"], failed["reason"]) == ("/d.txt", 2, "reset")


def test_folder_operations_and_errors(tmp_path):
    home = tmp_path / "h"
    fs, bus = make_fs(home)
    fs.mkdir("/a")
    with pytest.raises(AlreadyExists):
        fs.mkdir("/a")
    with pytest.raises(NotFound):
        fs.mkdir("/missing/b")
    upload(fs, "/a/f", b"1")
    with pytest.raises(NotEmpty):
        fs.rmdir("/a")
    with pytest.raises(NotADirectory):
        fs.rmdir("/a/f")
    with pytest.raises(NotADirectory):
        fs.list("/a/f")
    with pytest.raises(IsADirectory):
        fs.remove("/a")
    with pytest.raises(IsADirectory):
        fs.open_read("/a")
    with pytest.raises(IsADirectory):
        fs.open_write("/a")
    with pytest.raises(NotFound):
        fs.open_write("/nope/f")
    with pytest.raises(NotFound):
        fs.stat("/a/zz")
    fs.rename("/a/f", "/g")
    with pytest.raises(AlreadyExists):
        fs.rename("/a", "/g")
    with pytest.raises(InvalidPath):
        fs.rename("/a", "/a/inner")
    fs.set_attributes("/g", mtime=1_000_000_000)
    assert fs.stat("/g").mtime == 1_000_000_000
    assert [info.name for info in fs.list("/")] == ["a", "g"]
    fs.remove("/g")
    fs.rmdir("/a")
    assert visible(home) == []
    with pytest.raises(InvalidPath):
        fs.rmdir("/")
    for event_id in (20056, 20055, 20059, 20054, 20057, 20058):
        assert event_id in bus.ids()


def test_permission_denied_emits_and_hides(tmp_path):
    home = tmp_path / "h"
    (home / "secret").mkdir(parents=True)
    (home / "pub").mkdir()
    (home / "pub" / "a.txt").write_bytes(b"a")
    fs, bus = make_fs(home, ["allow-list, allow-read", "/secret*, deny-list, deny-read"])
    assert [info.name for info in fs.list("/")] == ["pub"]
    with pytest.raises(PermissionDenied):
        fs.list("/secret")
    with pytest.raises(PermissionDenied):
        fs.open_write("/pub/b.txt")
    assert bus.last(20040).data["operation"] == "write"
    with pytest.raises(PermissionDenied):
        fs.remove("/pub/a.txt")
    with pytest.raises(PermissionDenied):
        fs.rename("/pub/a.txt", "/pub/b.txt")
    with pytest.raises(PermissionDenied):
        fs.mkdir("/pub/x")
    with pytest.raises(PermissionDenied):
        fs.set_attributes("/pub/a.txt", mode=0o600)
    assert fs.open_read("/PUB/A.TXT" if os.name == "nt" else "/pub/a.txt").read() == b"a"


def test_reserved_and_invalid_names_are_refused_with_an_event(tmp_path):
    fs, bus = make_fs(tmp_path / "h")
    for bad in ("/.~upload-x.part", "/a\x00b", "/a\\..\\b", "/．．/x", "/" + "n" * 256):
        with pytest.raises(InvalidPath):
            fs.open_write(bad)
    assert bus.ids().count(20041) == 5


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_symlinks_are_not_followed_even_inside(tmp_path):
    home = tmp_path / "h"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    fs, _ = make_fs(home)
    (home / "out").symlink_to(outside)
    (home / "in").mkdir()
    (home / "alias").symlink_to(home / "in")
    for path in ("/out/secret", "/alias/x"):
        with pytest.raises(InvalidPath):
            fs.open_read(path)
    with pytest.raises(InvalidPath):
        fs.open_write("/out/new")
    assert not (outside / "new").exists()
    assert [info.name for info in fs.list("/")] == ["in"]
