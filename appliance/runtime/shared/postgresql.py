"""Shared state in the PostgreSQL database: tables `bans` and `ended_sessions` (migration 2).

A worker thread owns the connection: it writes what this node records (a ban, a logout) and,
every `refresh` seconds, reads the bans and ended sessions still in force, and the other
nodes' recent login failures, into a local snapshot that answers every check without
waiting. A ban made on one node therefore holds on the others within about `refresh`
seconds, and failures spread over the nodes add up to a ban as on a single node. When the
database cannot be reached, the worker keeps retrying and the node goes on with what it
last read plus its own records.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime

from appliance.runtime.database.migrations import connect_migrated
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.shared.state import LocalState

log = logging.getLogger(__name__)

UPSERT_BAN = (
    "INSERT INTO bans (subject, banned_until, node) VALUES (%s, %s, %s)"
    " ON CONFLICT (subject) DO UPDATE SET banned_until = greatest(bans.banned_until,"
    " excluded.banned_until), node = excluded.node"
)
END_SESSION = (
    "INSERT INTO ended_sessions (session_id, expires) VALUES (%s, %s)"
    " ON CONFLICT (session_id) DO NOTHING"
)
RECORD_FAILURE = "INSERT INTO login_failures (subject, time, node) VALUES (%s, now(), %s)"
FAILURES_ELSEWHERE = (
    "SELECT subject, count(*) FROM login_failures"
    " WHERE time > now() - make_interval(secs => %s) AND node <> %s GROUP BY subject"
)
FORGET = (
    "DELETE FROM bans WHERE banned_until < now() - interval '1 day';"
    " DELETE FROM ended_sessions WHERE expires < now();"
    " DELETE FROM login_failures WHERE time < now() - interval '1 day'"
)


class PostgreSQLState:
    def __init__(self, resource: PostgreSQLResource, node: str, refresh: float = 1.0) -> None:
        self.resource = resource
        self.node = node
        self.refresh = refresh
        self._snapshot = LocalState()
        self._writes: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self._connection = None
        self._read_once = threading.Event()
        self._window = 300.0  # seconds of other nodes' failures to read (the largest ban_window)
        self._thread = threading.Thread(target=self._run, name="shared-state", daemon=True)
        self._thread.start()

    # -- what the runtime calls (never waits for the database) ----------------
    def ban(self, subject: str, until: datetime) -> None:
        self._snapshot.ban(subject, until)
        self._writes.put((UPSERT_BAN, (subject, until, self.node)))

    def banned_until(self, subject: str) -> datetime | None:
        return self._snapshot.banned_until(subject)

    def failure(self, subject: str, window: float) -> None:
        self._window = max(self._window, window)
        self._writes.put((RECORD_FAILURE, (subject, self.node)))

    def failures_elsewhere(self, subject: str) -> int:
        return self._snapshot.failures_elsewhere(subject)

    def end_session(self, session_id: str, expires: datetime) -> None:
        self._snapshot.end_session(session_id, expires)
        self._writes.put((END_SESSION, (session_id, expires)))

    def session_ended(self, session_id: str) -> bool:
        return self._snapshot.session_ended(session_id)

    def wait_ready(self, timeout: float) -> bool:
        """True once the first snapshot was read (tests, start-up)."""
        return self._read_once.wait(timeout)

    def close(self) -> None:
        self._closing.set()
        self._writes.put(None)
        self._thread.join(10)

    # -- the worker -----------------------------------------------------------
    def _run(self) -> None:
        reads = 0
        while True:
            try:
                self._cycle(reads)
                reads += 1
            except Exception as error:  # the database is down or the link broke: retry
                log.warning("shared state in %s: %s", self.resource.label, error)
                self._drop_connection()
                if self._closing.wait(min(30.0, self.refresh * 5)):
                    return
            if self._closing.is_set() and self._writes.empty():
                self._drop_connection()
                return

    def _cycle(self, reads: int) -> None:
        connection = self._connect()
        self._flush_writes(connection, wait=self.refresh if reads else 0)
        current_bans = connection.execute(
            "SELECT subject, banned_until FROM bans WHERE banned_until > now()"
        ).fetchall()
        ended = connection.execute(
            "SELECT session_id, expires FROM ended_sessions WHERE expires > now()"
        ).fetchall()
        failures = connection.execute(FAILURES_ELSEWHERE, (self._window, self.node)).fetchall()
        self._snapshot.replace(dict(current_bans), dict(ended), dict(failures))
        self._read_once.set()
        if reads % 600 == 0:
            connection.execute(FORGET)

    def _flush_writes(self, connection, wait: float) -> None:
        """Write everything queued; wait up to `wait` seconds for the first item."""
        try:
            item = self._writes.get(timeout=wait) if wait else self._writes.get_nowait()
        except queue.Empty:
            return
        while item is not None:
            try:
                connection.execute(*item)
            except Exception:
                self._writes.put(item)  # keep it for the next attempt
                raise
            try:
                item = self._writes.get_nowait()
            except queue.Empty:
                return

    def _connect(self):
        if self._connection is None or self._connection.closed:
            self._connection = connect_migrated(self.resource)
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
