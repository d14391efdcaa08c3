"""The audit database: every event in SQLite (WAL), durable events committed before emit returns."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.sinks.base import Sink
from appliance.runtime.events.sinks.group_files import share_with_group

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    id INTEGER NOT NULL,
    time TEXT NOT NULL,
    component TEXT NOT NULL,
    account TEXT,
    peer TEXT,
    message TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_id ON events (id);
CREATE INDEX IF NOT EXISTS events_account ON events (account);
"""


def open_audit_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the audit database with the settings every writer uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30)
    share_with_group(path)  # before WAL: SQLite gives the -wal and -shm files its mode
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(SCHEMA)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    connection.commit()
    return connection


def event_row(event: Event) -> tuple:
    return (
        event.uuid,
        event.id,
        event.timestamp,
        event.component,
        event.account,
        event.peer,
        event.message,
        json.dumps(event.data, sort_keys=True, default=str),
    )


INSERT = (
    "INSERT OR IGNORE INTO events (uuid, id, time, component, account, peer, message, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class SQLiteSink(Sink):
    def __init__(self, handler_id: str, path: Path, event_filter: EventFilter | None = None):
        self.path = Path(path)
        self._db_lock = threading.Lock()
        self._connection = open_audit_database(self.path)
        super().__init__(handler_id, event_filter)

    def deliver_durable(self, event: Event) -> bool:
        with self._db_lock, self._connection:
            self._connection.execute(INSERT, event_row(event))
        return True

    def deliver(self, batch: list[Event]) -> None:
        with self._db_lock, self._connection:
            self._connection.executemany(INSERT, [event_row(e) for e in batch])

    def shutdown(self) -> None:
        with self._db_lock:
            self._connection.close()
