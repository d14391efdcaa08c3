"""Start, stop and look for this node's file services on behalf of promote, demote and failback.

With `service_start_command` / `service_stop_command` set in ha.ini (systemd, a Windows
service) those run; without them `appliance serve` runs as a detached process whose log
is `<state_folder>/serve.log`, and stopping sends SIGTERM to the pid in appliance.pid.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.config import Config
from appliance.ha.pair import Pair
from appliance.runtime.supervisor import pid_file

WINDOWS = sys.platform == "win32"


def running_pid(config: Config) -> int | None:
    """The pid of this node's running appliance, if any."""
    try:
        pid = int(pid_file(config).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if WINDOWS:
        return pid  # the supervisor removes its pid file when it stops
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_services(pair: Pair) -> None:
    command = pair["service_start_command"].strip()
    if command:
        subprocess.run(shlex.split(command), check=True, timeout=120)
        return
    log = pair.state_folder / "serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    flags = {"creationflags": subprocess.DETACHED_PROCESS} if WINDOWS else {}
    with open(log, "ab") as stream:
        subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "-q", "-c", str(pair.config_folder)],
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=not WINDOWS,
            cwd=str(pair.config_folder),
            env={**os.environ, "PYTHONPATH": _package_parent()},
            **flags,
        )


def stop_services(pair: Pair, config: Config, timeout: float = 30) -> None:
    command = pair["service_stop_command"].strip()
    if command:
        subprocess.run(shlex.split(command), check=True, timeout=120)
        return
    pid = running_pid(config)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(config) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the appliance (pid {pid}) did not stop within {timeout} s")
        time.sleep(0.1)


def _package_parent() -> str:
    """The folder holding the `appliance` package, so a detached `-m appliance` finds it."""
    parent = str(Path(__file__).resolve().parents[2])
    current = os.environ.get("PYTHONPATH")
    return f"{parent}{os.pathsep}{current}" if current else parent
