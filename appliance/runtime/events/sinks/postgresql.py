"""The shared audit trail: every event in PostgreSQL, durable events committed before emit returns.

Several nodes behind one load balancer write the same `events` table, each row naming its
node. A durable event (a stored upload, a ban) is inserted and committed on the caller's
thread; when the database cannot be reached, the sink reconnects once and otherwise raises,
so the caller reports a failure instead of a success that left no record. Other events go
through the queue, retried with backoff like every sink.
"""

from __future__ import annotations

import json
import logging
import threading

from appliance.runtime.database.migrations import connect_migrated
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.sinks.base import Sink

log = logging.getLogger(__name__)

INSERT = (
    "INSERT INTO events (uuid, id, time, component, account, peer, message, data, node)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (uuid) DO NOTHING"
)


class AuditUnavailable(RuntimeError):
    """A durable event could not be committed to the shared audit trail."""


class PostgreSQLSink(Sink):
    def __init__(
        self,
        handler_id: str,
        resource: PostgreSQLResource,
        node: str,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.resource = resource
        self.node = node
        self._db_lock = threading.Lock()
        self._connection = None
        with self._db_lock:
            self._connect()  # at start: a wrong address or password is reported at once
        super().__init__(handler_id, event_filter)

    def _connect(self):
        if self._connection is None or self._connection.closed:
            self._connection = connect_migrated(self.resource)
        return self._connection

    def _row(self, event: Event) -> tuple:
        data = json.dumps(event.data, sort_keys=True, default=str)
        return (
            event.uuid,
            event.id,
            event.time,
            event.component,
            event.account,
            event.peer,
            event.message,
            data,
            self.node,
        )

    def _write(self, events: list[Event]) -> None:
        """Insert and commit `events` in one transaction, reconnecting once if the link broke."""
        import psycopg

        rows = [self._row(event) for event in events]
        with self._db_lock:
            for attempt in (1, 2):
                try:
                    connection = self._connect()
                    with connection.transaction(), connection.cursor() as cursor:
                        cursor.executemany(INSERT, rows)
                    return
                except psycopg.OperationalError:
                    if self._connection is not None:
                        self._connection.close()
                    self._connection = None
                    if attempt == 2:
                        raise

    def deliver_durable(self, event: Event) -> bool:
        import psycopg

        try:
            self._write([event])
        except psycopg.Error as error:
            raise AuditUnavailable(
                f"event {event.id} could not be committed to {self.resource.label}: {error}"
            ) from error
        return True

    def deliver(self, batch: list[Event]) -> None:
        self._write(batch)

    def shutdown(self) -> None:
        with self._db_lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
