"""The one event bus of the process: every component emits here, every sink and handler listens.

Thread-safe: the asyncio services, pyftpdlib's thread and handler workers all call `emit`.
Durable events reach the durable sinks (the audit database) before `emit` returns; every
other delivery is queued so that a slow or dead sink never blocks the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from appliance.runtime.events.event import Event, make_event
from appliance.runtime.events.sinks.base import Sink

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventBus:
    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[Sink, ...] = ()
        self._listeners: tuple[Listener, ...] = ()
        self.replace_sinks(sinks)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return self._sinks

    def replace_sinks(self, sinks: Iterable[Sink]) -> tuple[Sink, ...]:
        """Swap in a new set of sinks (at start and on reload); returns the old ones to close."""
        new = tuple(sinks)
        for sink in new:
            sink.bind(self)
        with self._lock:
            old, self._sinks = self._sinks, new
        return old

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` for every event, in the emitter's thread; keep it quick."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def emit(
        self,
        event_id: int,
        component: str,
        *,
        account: str | None = None,
        peer: str | None = None,
        **data: object,
    ) -> Event:
        event = make_event(event_id, component, account=account, peer=peer, **data)
        self.publish(event)
        return event

    def publish(self, event: Event) -> None:
        for sink in self._sinks:
            if sink.accepts(event):
                sink.submit(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on event %s", listener, event.id)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every sink delivered what was queued so far (each up to `timeout`)."""
        for sink in self._sinks:
            sink.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        for sink in self.replace_sinks(()):
            sink.close(timeout)
