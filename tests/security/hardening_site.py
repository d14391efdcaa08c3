"""One appliance with FTP, SFTP and HTTP and a text log, shared by the hardening tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.running import REPO, RunningAppliance

SERVICES = """\
    [services/ftp]
    type = ftp
    address = 127.0.0.1
    port = {port}
    passive_port_range = 62400-62439

    [services/sftp]
    type = ssh
    address = 127.0.0.1
    port = {port}

    [services/web]
    type = http
    address = 127.0.0.1
    port = {port}
    """
ALICE_PASSWORD = "alice-pw"


def hardening_appliance(root: Path, server_options: str = "") -> RunningAppliance:
    log = Path(root) / "appliance" / "logs" / "events.log"
    extra = f"""\
        [event-handlers/log]
        type = text-log
        path = {log}
        """
    return RunningAppliance(
        root,
        SERVICES,
        accounts={"alice": ALICE_PASSWORD},
        extra=extra,
        server_options=server_options,
    )


def text_log(app: RunningAppliance) -> str:
    path = app.root / "logs" / "events.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def appliance_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
