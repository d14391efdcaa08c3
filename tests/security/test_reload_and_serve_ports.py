"""Ports held by another process: a reload that would move FTP onto one is refused (the old
listener stays, event 20081, `appliance reload` exits 1 with one line); `serve` with every
port taken exits 1 with one line instead of running with no listener."""

from __future__ import annotations

import ftplib
import socket
import subprocess
import sys

from tests.running import REPO
from tests.security.hardening_site import ALICE_PASSWORD, appliance_cli, hardening_appliance


def _ftp_answers(port: int) -> bool:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=60)
    client.login("alice", ALICE_PASSWORD)
    client.quit()
    return True


def _held_port() -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder


def test_reload_onto_a_taken_port_keeps_the_old_listener_and_says_so(tmp_path):
    with _held_port() as holder, hardening_appliance(tmp_path) as app:
        old_port = app.port("ftp")
        assert _ftp_answers(old_port)

        app.ports["ftp"] = holder.getsockname()[1]
        app.write_config()
        run = appliance_cli("reload", "-c", str(app.root))
        assert run.returncode == 1
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert "services/ftp" in lines[0] and str(app.ports["ftp"]) in lines[0]
        assert "in use" in lines[0]
        rejected = app.wait_event(20081, timeout=60)
        assert "services/ftp" in rejected["data"]["problems"]
        assert not app.events(20080)
        assert _ftp_answers(old_port)

        app.ports["ftp"] = old_port
        app.write_config()
        run = appliance_cli("reload", "-c", str(app.root))
        assert run.returncode == 0, run.stderr
        assert "no listener changed" in run.stdout
        assert _ftp_answers(old_port)
        assert "Traceback" not in (app.root / "serve.log").read_text()


def test_serve_with_every_port_taken_exits_with_one_line(tmp_path):
    with _held_port() as ftp, _held_port() as sftp, _held_port() as web:
        app = hardening_appliance(tmp_path)
        app.ports.update(
            ftp=ftp.getsockname()[1], sftp=sftp.getsockname()[1], web=web.getsockname()[1]
        )
        app.write_config()
        run = subprocess.run(
            [sys.executable, "-m", "appliance", "serve", "-q", "-c", str(app.root)],
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("appliance serve: no service could start")
