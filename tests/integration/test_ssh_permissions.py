"""One permission table, checked over SFTP (paramiko) and legacy SCP (OpenSSH `scp -O`).

The expected answers are the permission engine's own (`Permissions.allows`, the object the
AAA unit tests drive); each row also states the answer in words, so the table documents
the rules it checks. Denials must come back as "permission denied" and leave event 20040.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.runtime.aaa.permissions import Permissions
from tests.ssh_support import (
    account_section,
    client_key,
    paramiko_client,
    ssh_appliance,
    ssh_options,
)

pytestmark = pytest.mark.skipif(shutil.which("scp") is None, reason="OpenSSH client missing")

RULES = [  # the account's lines; its group "users" (tests/running.py) has allow-full-control
    "allow-list, allow-read, deny-write, deny-rename, deny-delete-file, deny-create-folder, "
    "deny-delete-folder, deny-set-attributes",
    "/inbox/*, allow-write, allow-create-folder, allow-rename, allow-delete-file, "
    "allow-delete-folder, deny-read",
    "/inbox/keep/*, deny-delete-file, deny-rename",
    "/public/*, allow-set-attributes",
    "/secret*, deny-list, deny-read",
]
FILES = ["public/a.txt", "public/docs/d.txt", "inbox/a.txt", "inbox/keep/k.txt", "secret/s.txt"]
FOLDERS = ["inbox/old", "public/old"]

# (operation, path, allowed)
SFTP_TABLE = [
    ("list", "/public", True),
    ("list", "/secret", False),
    ("read", "/public/a.txt", True),
    ("read", "/inbox/a.txt", False),
    ("read", "/secret/s.txt", False),
    ("write", "/inbox/new.txt", True),
    ("write", "/public/new.txt", False),
    ("rename", "/inbox/a.txt", True),
    ("rename", "/inbox/keep/k.txt", False),
    ("rename", "/public/a.txt", False),
    ("delete-file", "/inbox/a.txt", True),
    ("delete-file", "/inbox/keep/k.txt", False),
    ("delete-file", "/public/a.txt", False),
    ("create-folder", "/inbox/sub", True),
    ("create-folder", "/public/sub", False),
    ("delete-folder", "/inbox/old", True),
    ("delete-folder", "/public/old", False),
    ("set-attributes", "/public/a.txt", True),
    ("set-attributes", "/inbox/a.txt", False),
]
SCP_TABLE = [row for row in SFTP_TABLE if row[0] in ("list", "read", "write", "create-folder")]


def engine_allows(operation: str, path: str) -> bool:
    permissions = Permissions("carol", RULES, {"users": ["allow-full-control"]})
    if operation == "rename":
        return permissions.allows("rename", path) and permissions.allows("rename", renamed(path))
    return permissions.allows(operation, path)


def renamed(path: str) -> str:
    return path + ".renamed"


@pytest.mark.parametrize(("operation", "path", "allowed"), SFTP_TABLE)
def test_table_states_the_engine_answers(operation, path, allowed):
    assert engine_allows(operation, path) is allowed


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssh-permissions")
    key = client_key(root / "client")
    with ssh_appliance(root, account_section("carol", key=key, permissions=RULES)) as app:
        yield app, key


def reset(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    for name in FILES:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(f"content of {name}\n".encode())
    for name in FOLDERS:
        (home / name).mkdir(parents=True, exist_ok=True)


def sftp_attempt(sftp, operation: str, path: str, local: Path) -> None:
    actions = {
        "list": lambda: sftp.listdir(path),
        "read": lambda: sftp.get(path, str(local / "got")),
        "write": lambda: sftp.putfo(io.BytesIO(b"new\n"), path),
        "rename": lambda: sftp.rename(path, renamed(path)),
        "delete-file": lambda: sftp.remove(path),
        "create-folder": lambda: sftp.mkdir(path),
        "delete-folder": lambda: sftp.rmdir(path),
        "set-attributes": lambda: sftp.chmod(path, 0o600),
    }
    actions[operation]()


def outcome_on_disk(home: Path, operation: str, path: str) -> bool:
    """Whether the operation's effect is visible in the home folder."""
    real = home / path.lstrip("/")
    checks = {
        "write": lambda: real.read_bytes() == b"new\n",
        "rename": lambda: not real.exists() and (home / renamed(path).lstrip("/")).exists(),
        "delete-file": lambda: not real.exists(),
        "create-folder": lambda: real.is_dir(),
        "delete-folder": lambda: not real.exists(),
        "set-attributes": lambda: real.stat().st_mode & 0o777 == 0o600,
    }
    return checks.get(operation, lambda: True)()


def test_sftp_answers_match_the_table(site, tmp_path):
    app, key = site
    home = app.home("carol")
    client = paramiko_client(app, "carol", key_filename=str(key.private))
    sftp = client.open_sftp()
    answers = []
    try:
        for operation, path, _allowed in SFTP_TABLE:
            reset(home)
            try:
                sftp_attempt(sftp, operation, path, tmp_path)
                answers.append((operation, path, outcome_on_disk(home, operation, path)))
            except PermissionError:
                answers.append((operation, path, False))
    finally:
        client.close()
    assert answers == SFTP_TABLE
    for _operation, path, allowed in SFTP_TABLE:
        if not allowed:  # in the audit trail (paramiko's get asks stat, so "list", first)
            app.wait_event(20040, lambda e, denied=path: e["data"]["path"] == denied)


def scp_attempt(app, key, operation: str, path: str, local: Path) -> bool:
    remote = f"carol@127.0.0.1:{path}"
    if operation == "read":
        arguments = [remote, str(local / "got")]
    elif operation == "list":
        arguments = ["-r", remote, str(local / "listed")]
    elif operation == "write":
        (local / "new.txt").write_bytes(b"new\n")
        arguments = [str(local / "new.txt"), remote]
    else:  # create-folder: send an empty folder named like the target into its parent
        folder = local / Path(path).name
        folder.mkdir(exist_ok=True)
        arguments = ["-r", str(folder), f"carol@127.0.0.1:{Path(path).parent}"]
    options = ssh_options(app.port("sftp"), key, scp=True)
    result = subprocess.run(
        ["scp", "-O", *options, *arguments], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        assert "not allowed" in result.stderr, result.stderr
    return result.returncode == 0


def test_legacy_scp_answers_match_the_table(site, tmp_path):
    app, key = site
    home = app.home("carol")
    answers = []
    for operation, path, _allowed in SCP_TABLE:
        reset(home)
        local = tmp_path / f"{operation}-{len(answers)}"
        local.mkdir()
        ok = scp_attempt(app, key, operation, path, local)
        answers.append((operation, path, ok and outcome_on_disk(home, operation, path)))
    assert answers == SCP_TABLE
