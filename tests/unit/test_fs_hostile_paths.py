"""Property test: no hostile client path resolves outside the home folder."""

from __future__ import annotations

import contextlib
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from appliance.runtime.aaa.identity import Account
from appliance.runtime.aaa.permissions import Permissions
from appliance.runtime.fs import FSError, VirtualFS
from appliance.runtime.fs.jail import normalize
from tests.aaa_support import RecordingBus

HOSTILE_PIECES = [
    "..",
    ".",
    "...",
    "%2e%2e",
    "%2E%2E%2F",
    "..%2f",
    "%252e%252e",
    "..\\",
    "\\..\\",
    "\\",
    "/",
    "//",
    "\x00",
    "..\x00",
    "．．",
    "‥",
    "︰",
    "．",
    "／",
    "∕",
    "⁄",
    "%c0%ae%c0%ae",
    "\u002e\u0301",
    "e\u0301",
    "é",
    "ﬀ",
    "K",
    "İ",
    "\u200b..",
    "..\u200b",
    "C:",
    "C:\\",
    "\\\\?\\C:\\",
    "~",
    "~root",
    "$HOME",
    "${USER}",
    "out",
    "out/..",
    "link",
    "inner",
    "inner/../..",
    "x" * 300,
    "\ufeff..",
    "\t",
    "\n..",
    "con",
    "NUL.txt",
    "a:b",
    "*",
    "?",
]
pieces = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.text(alphabet=string.printable + "．／∕\u0301é", min_size=0, max_size=12),
)
hostile_paths = st.lists(pieces, min_size=0, max_size=12).flatmap(
    lambda parts: st.sampled_from(["/", "", "\\", "//"]).map(lambda lead: lead + "/".join(parts))
)


@pytest.fixture(scope="module")
def jail(tmp_path_factory):
    root = tmp_path_factory.mktemp("jail")
    home = root / "home"
    (home / "inner" / "deep").mkdir(parents=True)
    (home / "inner" / "deep" / "file.txt").write_bytes(b"inside")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    if hasattr(os, "symlink") and os.name != "nt":
        (home / "out").symlink_to(outside)
        (home / "link").symlink_to("../outside/secret")
        (home / "inner" / "up").symlink_to("../..")
    account = Account(
        name="ann",
        home_folder=Path(os.path.realpath(home)),
        groups=(),
        permissions=Permissions("ann", ["allow-full-control"]),
        amend_write_name=None,
        method="test",
    )
    fs = VirtualFS(account, RecordingBus(), protocol="sftp", peer="198.51.100.7:1", component="t")
    return fs, Path(os.path.realpath(home)), Path(os.path.realpath(outside))


def _inside(path: Path, home: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == home or home in real.parents


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=hostile_paths, cwd=st.sampled_from(["/", "/inner", "/inner/deep", "/nope"]))
def test_nothing_resolves_outside_the_home(jail, path, cwd):
    fs, home, outside = jail
    try:
        virtual = fs.normalize(path, cwd)
    except FSError:
        return
    assert virtual.startswith("/") and "\x00" not in virtual and "\\" not in virtual
    assert ".." not in virtual.split("/")
    try:
        real = fs.real_path(virtual)
    except FSError:
        return
    assert _inside(real, home), (path, real)
    try:
        with fs.open_read(path if path.startswith("/") else virtual) as handle:
            assert handle.read(100) != b"secret"
            assert _inside(handle.real_path, home)
    except (FSError, OSError):
        pass
    assert (outside / "secret").read_bytes() == b"secret"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=hostile_paths)
def test_uploads_and_folders_stay_inside(jail, path):
    fs, home, outside = jail
    before = sorted(p.name for p in outside.iterdir())
    for action in (
        lambda: fs.open_write(path).abort("test"),
        lambda: fs.mkdir(path),
    ):
        with contextlib.suppress(FSError, OSError):
            action()
    assert sorted(p.name for p in outside.iterdir()) == before


@given(path=hostile_paths)
def test_normalize_is_idempotent(path):
    try:
        once = normalize(path)
    except FSError:
        return
    assume(once)
    assert normalize(once) == once
