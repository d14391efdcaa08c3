"""Small helpers for tests: free ports, waiting for a condition, reading the audit database."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from appliance.runtime.events.query import query_events


def free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(family, kind) as sock:
        sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        return sock.getsockname()[1]


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
    if not Path(database).exists():
        return []
    try:
        return query_events(database, ids=list(ids) or None)
    except sqlite3.OperationalError:  # created but its schema not written yet (start-up race)
        return []
