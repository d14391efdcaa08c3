"""The supervisor as a process: start and stop events, SIGHUP reload, a bad reload rejected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers import audit_events, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGHUP is POSIX")

BASE = """\
[server]
name = reload-test

[event-handlers/audit]
type = sqlite
path = data/audit.db
"""


def serve(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "-q", "-c", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sighup_with_bad_config_keeps_the_old_one(tmp_path: Path):
    (tmp_path / "server.ini").write_text(BASE)
    database = tmp_path / "data" / "audit.db"
    process = serve(tmp_path)
    try:
        wait_for(lambda: audit_events(database, 20074))
        pid_file = tmp_path / "data" / "appliance.pid"
        assert int(pid_file.read_text()) == process.pid

        (tmp_path / "server.ini").write_text(BASE + "\n[services/x]\ntype = ssh\nport = nope\n")
        process.send_signal(signal.SIGHUP)
        rejected = wait_for(lambda: audit_events(database, 20081))
        assert (
            "server.ini:services/x:port: expected a whole number, got 'nope'"
            in rejected[0]["data"]["problems"]
        )
        assert process.poll() is None, "a rejected reload must not stop the appliance"

        log_file = tmp_path / "logs" / "events.log"
        (tmp_path / "server.ini").write_text(
            BASE
            + textwrap.dedent(f"""
            [event-handlers/log]
            type = text-log
            path = {log_file}
        """)
        )
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: audit_events(database, 20080))
        # The new handler from the reloaded configuration receives events.
        wait_for(lambda: log_file.exists() and " server " in log_file.read_text())

        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        stopped = audit_events(database, 20075)
        assert stopped and stopped[0]["data"]["reason"] == "stop requested"
        assert not pid_file.exists()
        assert log_file.read_text().splitlines()[-1].startswith("20075 ")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert "Traceback" not in process.stderr.read()


def test_reload_command_validates_before_signalling(tmp_path: Path):
    (tmp_path / "server.ini").write_text(BASE)
    process = serve(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        wait_for(lambda: audit_events(tmp_path / "data" / "audit.db", 20074))
        (tmp_path / "server.ini").write_text(BASE + "bogus = 1\n")
        run = subprocess.run(
            [sys.executable, "-m", "appliance", "reload", "-c", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 1
        assert "event-handlers/audit:bogus: unknown option" in run.stderr
        assert not audit_events(tmp_path / "data" / "audit.db", 20080, 20081)

        (tmp_path / "server.ini").write_text(BASE)
        run = subprocess.run(
            [sys.executable, "-m", "appliance", "reload", "-c", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        wait_for(lambda: audit_events(tmp_path / "data" / "audit.db", 20080))
    finally:
        process.terminate()
        process.wait(20)


def test_serve_refuses_an_invalid_config_without_traceback(tmp_path: Path):
    (tmp_path / "server.ini").write_text("[server]\nban_failures = many\n")
    process = serve(tmp_path)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stderr.strip() == (
        f"{tmp_path / 'server.ini'}:server:ban_failures: expected a whole number, got 'many'"
    )
