"""Small helpers for tests: free ports, waiting for a condition, reading the audit database."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from appliance.runtime.events.query import query_events

_HANDED_OUT: set[int] = set()


def free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    """A port free now and never handed out before in this test run: the kernel may offer a
    just-closed port again, and two services of one test must not get the same one."""
    while True:
        with socket.socket(family, kind) as sock:
            sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_for(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.05):
    """Poll until condition() is truthy; returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition {condition} not met within {timeout} s")
        time.sleep(interval)


def audit_events(database: Path, *ids: int) -> list[dict]:
    try:
        return query_events(database, ids=list(ids) or None)
    except (FileNotFoundError, ValueError):
        return []  # not created yet by the process under test
