"""What every sink shares: a filter, a bounded queue, a worker thread, retries with backoff.

A sink must never block or crash the runtime: `submit` only enqueues; the worker delivers
in batches; a failing delivery is retried with exponential backoff and reported as event
60001 (and 60002 once it recovers). When the queue is full the oldest events are dropped
and counted (event 60003): the durable SQLite trail still has them.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import TYPE_CHECKING

from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter

if TYPE_CHECKING:
    from appliance.runtime.events.bus import EventBus

log = logging.getLogger(__name__)

SINK_FAILURE_IDS = frozenset({60001, 60002, 60003})


class Sink:
    """Base class; subclasses implement `deliver(batch)` and may override `deliver_durable`."""

    max_queue = 10_000
    max_batch = 200
    initial_backoff = 0.5
    max_backoff = 60.0

    def __init__(self, handler_id: str, event_filter: EventFilter | None = None) -> None:
        self.handler_id = handler_id
        self.component = f"event-handlers/{handler_id}"
        self.filter = event_filter or EventFilter()
        self._bus: EventBus | None = None
        self._queue: collections.deque[Event] = collections.deque()
        self._wakeup = threading.Condition()
        self._closing = False
        self._dropped = 0
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=f"sink-{handler_id}", daemon=True)
        self._thread.start()

    # -- called by the bus -------------------------------------------------
    def bind(self, bus: EventBus) -> None:
        self._bus = bus

    def accepts(self, event: Event) -> bool:
        if event.component == self.component and event.id in SINK_FAILURE_IDS:
            return False  # a sink does not queue reports of its own failure to itself
        return self.filter.matches(event)

    def submit(self, event: Event) -> None:
        if event.durable and self.deliver_durable(event):
            return
        with self._wakeup:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(event)
            self._idle.clear()
            self._wakeup.notify()

    # -- for subclasses ----------------------------------------------------
    def deliver(self, batch: list[Event]) -> None:
        raise NotImplementedError

    def deliver_durable(self, event: Event) -> bool:
        """Record `event` before returning and return True, or return False to queue it."""
        return False

    def shutdown(self) -> None:
        """Release connections and files; called once the queue is drained."""

    # -- lifecycle ---------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was delivered (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with self._wakeup:
            self._closing = True
            self._wakeup.notify()
        self._thread.join(timeout)
        try:
            self.shutdown()
        except Exception:
            log.exception("closing sink %s failed", self.handler_id)

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wakeup:
                while not self._queue and not self._closing:
                    self._idle.set()
                    self._wakeup.wait()
                if self._closing and (not self._queue or failures):
                    return
                batch = [self._queue[i] for i in range(min(self.max_batch, len(self._queue)))]
                dropped, self._dropped = self._dropped, 0
            if dropped:
                self._report(60003, count=dropped)
            try:
                self.deliver(batch)
            except Exception as error:
                failures += 1
                retry_in = min(self.max_backoff, self.initial_backoff * 2 ** (failures - 1))
                self._report(
                    60001, error=_describe(error), retry_in=retry_in, pending=len(self._queue)
                )
                with self._wakeup:
                    self._wakeup.wait_for(lambda: self._closing, timeout=retry_in)
                continue
            delivered = {id(event) for event in batch}
            with self._wakeup:
                while self._queue and id(self._queue[0]) in delivered:
                    self._queue.popleft()
            if failures:
                self._report(60002, failures=failures)
                failures = 0

    def _report(self, event_id: int, **data: object) -> None:
        if self._bus is not None:
            self._bus.emit(event_id, self.component, handler=self.handler_id, **data)
        else:
            log.warning("sink %s: event %s %s", self.handler_id, event_id, data)


def _describe(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}" if text != error.__class__.__name__ else text
