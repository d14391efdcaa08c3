"""The CLI end to end: init, validate, serve, events, account hash."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from appliance.config import load_config
from appliance.runtime.aaa.passwords import verify_password
from tests.conftest import REPO
from tests.helpers import audit_events, free_port, wait_for

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def appliance(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        input=stdin,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_writes_a_valid_demo_and_refuses_to_overwrite(tmp_path: Path):
    demo = tmp_path / "demo"
    run = appliance("init", str(demo))
    assert run.returncode == 0, run.stderr
    password = re.search(r"stored only as a hash\): (\S+)", run.stdout)[1]
    config = load_config(demo)
    assert {s.type for s in config.services.values()} == {
        "ftp",
        "ftps-implicit",
        "ssh",
        "http",
        "https",
    }
    assert sorted(s["port"] for s in config.services.values()) == [
        20021,
        20022,
        20080,
        20443,
        20990,
    ]
    stored = config.accounts["demo"]["password"]
    assert stored.startswith("$argon2id$") and verify_password(stored, password)
    assert password not in (demo / "server.ini").read_text()
    assert (demo / "data" / "audit.db").is_file()
    if os.name == "posix":
        for key in ("ssh_host_ed25519_key", "ssh_host_rsa_key", "tls.pem"):
            assert (demo / "keys" / key).stat().st_mode & 0o777 == 0o600
    assert appliance("validate", str(demo)).returncode == 0
    again = appliance("init", str(demo))
    assert again.returncode == 1 and "already exists" in again.stderr


def _move_demo_to_free_ports(demo: Path) -> None:
    """The demo's fixed ports may be taken on a busy test machine: use free ones."""
    text = (demo / "server.ini").read_text()
    for port in (20021, 20990, 20022, 20080, 20443):
        text = text.replace(f"port = {port}\n", f"port = {free_port()}\n")
    (demo / "server.ini").write_text(text)


def test_serve_then_query_events(tmp_path: Path):
    demo = tmp_path / "demo"
    appliance("init", str(demo))
    _move_demo_to_free_ports(demo)
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "-c", str(demo)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    database = demo / "data" / "audit.db"
    started = wait_for(
        lambda: len(audit_events(database, 20076)) == 5 and audit_events(database, 20076)
    )
    assert {e["data"]["type"] for e in started} == {"ftp", "ftps-implicit", "ssh", "http", "https"}
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout.splitlines()[0].startswith("20074 ")

    text = appliance("events", "-c", str(demo))
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].split()[0] == "20074"
    assert text.stdout.splitlines()[-1].split()[0] == "20075"

    only = appliance("events", "-c", str(demo), "--id", "20075", "--json")
    rows = [json.loads(line) for line in only.stdout.splitlines()]
    assert [row["id"] for row in rows] == [20075]
    assert rows[0]["data"] == {"reason": "stop requested"}
    assert appliance("events", "-c", str(demo), "--since", "1h", "--account", "nobody").stdout == ""
    bad = appliance("events", "-c", str(demo), "--since", "yesterday")
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr


def test_account_hash_reads_stdin():
    run = appliance("account", "hash", stdin="correct horse\n")
    assert run.returncode == 0
    assert verify_password(run.stdout.strip(), "correct horse")
    scrypt = appliance("account", "hash", "--scrypt", stdin="pw\n")
    assert scrypt.stdout.startswith("$scrypt$") and verify_password(scrypt.stdout.strip(), "pw")
    assert appliance("account", "hash", stdin="\n").returncode == 1
