"""The durable queue: one SQLite row per file found, surviving kill -9 and restarts.

States: queued -> sending -> done; sending -> retry -> sending ...; after the last retry
failed. A file is known by (transfer, source path, size, mtime): a file seen again unchanged
is not queued twice, a changed one is queued anew. Each change is committed (WAL,
synchronous=FULL) before the engine acts on it, so a crash leaves at worst a `sending` row,
which `resume_interrupted` turns back into a due retry at start.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

QUEUE_FILE = "transfers.db"

QUEUED, SENDING, DONE, RETRY, FAILED = "queued", "sending", "done", "retry", "failed"
STATES = (QUEUED, SENDING, DONE, RETRY, FAILED)
DUE_STATES = (QUEUED, RETRY)

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer TEXT NOT NULL,
    source_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    sha256 TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (transfer, source_path, size, mtime)
);
CREATE INDEX IF NOT EXISTS files_due ON files (transfer, state, next_attempt);
"""


@dataclass(frozen=True)
class QueuedFile:
    id: int
    transfer: str
    source_path: str
    size: int
    mtime: float
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    sha256: str | None

    @property
    def name(self) -> str:
        return self.source_path.rsplit("/", 1)[-1]


_COLUMNS = (
    "id, transfer, source_path, size, mtime, state, attempts, next_attempt, last_error, sha256"
)


def queue_path(data_folder: Path) -> Path:
    return Path(data_folder) / QUEUE_FILE


class TransferQueue:
    """Thread-safe: the engine's loop, the CLI and tests may share one instance."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, timeout=30, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def _rows(self, sql: str, *parameters: object) -> list[QueuedFile]:
        with self._lock:
            return [QueuedFile(*row) for row in self._db.execute(sql, parameters).fetchall()]

    # -- writing ----------------------------------------------------------
    def enqueue(
        self, transfer: str, source_path: str, size: int, mtime: float
    ) -> QueuedFile | None:
        """Record a file found; None when this very file (same size and mtime) is known."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO files (transfer, source_path, size, mtime, state,"
                " next_attempt, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (transfer, source_path, size, mtime, QUEUED, now, now, now),
            )
            if cursor.rowcount == 0:
                return None
            sql = f"SELECT {_COLUMNS} FROM files WHERE id = ?"  # noqa: S608 - constant columns
            row = db.execute(sql, (cursor.lastrowid,))
            return QueuedFile(*row.fetchone())

    def claim_due(self, transfer: str, limit: int, now: float | None = None) -> list[QueuedFile]:
        """Move up to `limit` due files to `sending`, counting the attempt; atomic."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM files WHERE transfer = ? AND state IN (?, ?)"  # noqa: S608
                " AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?",
                (transfer, *DUE_STATES, now, limit),
            ).fetchall()
            claimed = []
            for row in rows:
                record = QueuedFile(*row)
                db.execute(
                    "UPDATE files SET state = ?, attempts = attempts + 1, updated = ? WHERE id = ?",
                    (SENDING, now, record.id),
                )
                claimed.append(replace(record, state=SENDING, attempts=record.attempts + 1))
            return claimed

    def mark_done(self, record: QueuedFile, sha256: str | None) -> None:
        self._set(record.id, state=DONE, sha256=sha256, last_error=None)

    def mark_retry(self, record: QueuedFile, error: str, next_attempt: float) -> None:
        self._set(record.id, state=RETRY, last_error=error, next_attempt=next_attempt)

    def mark_failed(self, record: QueuedFile, error: str) -> None:
        self._set(record.id, state=FAILED, last_error=error)

    def release(self, record: QueuedFile) -> None:
        """An attempt interrupted by a stop or a reload: due again at once, attempt kept."""
        self._set(record.id, state=RETRY, next_attempt=time.time())

    def drop(self, record: QueuedFile) -> None:
        """Forget one file (superseded by a newer version of it)."""
        with self._transaction() as db:
            db.execute("DELETE FROM files WHERE id = ?", (record.id,))

    def _set(self, record_id: int, **values: object) -> None:
        values["updated"] = time.time()
        # Column names come from this module's callers, values are bound.
        sql = f"UPDATE files SET {', '.join(f'{name} = ?' for name in values)} WHERE id = ?"  # noqa: S608
        with self._transaction() as db:
            db.execute(sql, (*values.values(), record_id))

    def resume_interrupted(self, transfers: list[str] | None = None) -> int:
        """At start: rows left `sending` by a crash become due retries (checked remotely first)."""
        sql, parameters = "UPDATE files SET state = ?, next_attempt = ? WHERE state = ?", []
        if transfers is not None:
            sql += f" AND transfer IN ({', '.join('?' * len(transfers))})"
            parameters = list(transfers)
        with self._transaction() as db:
            return db.execute(sql, (RETRY, time.time(), SENDING, *parameters)).rowcount

    def retry_failed(self, transfer: str) -> int:
        """failed -> queued with a fresh count of attempts (`appliance transfers retry`)."""
        now = time.time()
        with self._transaction() as db:
            return db.execute(
                "UPDATE files SET state = ?, attempts = 0, next_attempt = ?, updated = ?"
                " WHERE transfer = ? AND state = ?",
                (QUEUED, now, now, transfer, FAILED),
            ).rowcount

    def forget(self, transfer: str) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM files WHERE transfer = ?", (transfer,)).rowcount

    # -- reading ----------------------------------------------------------
    def counts(self, transfer: str | None = None) -> dict[str, dict[str, int]]:
        """transfer -> state -> number of files."""
        sql = "SELECT transfer, state, COUNT(*) FROM files"
        parameters: tuple = ()
        if transfer is not None:
            sql, parameters = sql + " WHERE transfer = ?", (transfer,)
        with self._lock:
            rows = self._db.execute(sql + " GROUP BY transfer, state", parameters).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for name, state, count in rows:
            counts.setdefault(name, dict.fromkeys(STATES, 0))[state] = count
        return counts

    def files(self, transfer: str, *states: str) -> list[QueuedFile]:
        wanted = states or STATES
        return self._rows(
            f"SELECT {_COLUMNS} FROM files WHERE transfer = ? AND state IN"  # noqa: S608
            f" ({', '.join('?' * len(wanted))}) ORDER BY id",
            transfer,
            *wanted,
        )

    def next_due(self, transfer: str) -> float | None:
        """When the earliest queued or retrying file of `transfer` is due."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt) FROM files WHERE transfer = ? AND state IN (?, ?)",
                (transfer, *DUE_STATES),
            ).fetchone()
        return row[0]
