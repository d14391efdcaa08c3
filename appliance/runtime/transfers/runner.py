"""One transfer at work: find files (scan or event), queue them, send the due ones in parallel.

Everything here runs on the transfers' own asyncio loop (see engine.py), never on a
protocol service's loop. The queue decides what is due; the runner only wakes up when a
file is offered, a send ends, a retry falls due or the next interval scan is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from appliance.runtime.transfers.delivery import (
    Delivery,
    PermanentTransferError,
    SourceChanged,
    deliver,
    final_name,
)
from appliance.runtime.transfers.location import (
    Emit,
    Location,
    LocationError,
    is_temporary,
    join,
)
from appliance.runtime.transfers.queue import QueuedFile, TransferQueue
from appliance.runtime.transfers.schedule import retry_delay
from appliance.runtime.transfers.settings import TransferPlan, local_source_folder

log = logging.getLogger(__name__)

QUEUED, STARTED, COMPLETED, RETRY_SCHEDULED, FAILED = 80001, 80002, 80003, 80004, 80005
SCAN_FAILED = 80008
MAX_SLEEP = 60.0
QUEUE_ERROR_PAUSE = 5.0


class TransferRunner:
    def __init__(
        self,
        plan: TransferPlan,
        queue: TransferQueue,
        locations: dict[str, Location],
        emit: Emit,
    ) -> None:
        self.plan = plan
        self.queue = queue
        self.source = locations[plan.source]
        self.destination = locations[plan.destination]
        self.emit = emit
        self.source_folder = local_source_folder(plan, locations)
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task] = set()
        self._scan_failing = False

    # -- finding files ----------------------------------------------------
    async def scan(self) -> int:
        """Queue every matching file of the source folder not queued before; how many."""
        async with self.source.session() as files:
            found = await files.list_files(self.plan.source_path)
        queued = sum(1 for info in found if self._enqueue(info.name, info.size, info.mtime))
        if queued:
            self._wake.set()
        return queued

    def offer(self, real_path: Path) -> bool:
        """A file completed on this host (an upload, a dispatcher move): queue it if it is ours."""
        if self.source_folder is None:
            return False
        try:
            if real_path.resolve().parent != self.source_folder.resolve():
                return False
            stat = real_path.stat()
        except OSError:
            return False
        if self._enqueue(real_path.name, stat.st_size, stat.st_mtime):
            self._wake.set()
            return True
        return False

    def _enqueue(self, name: str, size: int, mtime: float) -> bool:
        if not _plain_name(name) or is_temporary(name) or not self.plan.wants(name):
            return False
        record = self.queue.enqueue(self.plan.id, _source_key(self.plan, name), size, mtime)
        if record is None:
            return False
        self.emit(
            QUEUED,
            self.plan.component,
            transfer=self.plan.id,
            source=self.source.describe(record.source_path),
            bytes=size,
        )
        return True

    # -- sending ----------------------------------------------------------
    async def run_forever(self) -> None:
        """Scan on schedule and send due files until cancelled (stop or reload)."""
        next_scan = time.monotonic() if self.plan.trigger == "interval" else None
        if self.plan.trigger == "event":
            await self._scan_logged()  # files that arrived while the appliance was stopped
        try:
            while True:
                if next_scan is not None and time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + self.plan.interval
                    if self.plan.window is None or self.plan.window.contains(datetime.now()):
                        await self._scan_logged()
                try:
                    self._start_due()
                except sqlite3.Error as error:  # a locked or full disk: try again, do not die
                    log.error("transfer %s: the queue failed: %s", self.plan.id, error)
                    await asyncio.sleep(QUEUE_ERROR_PAUSE)
                await self._sleep(next_scan)
        finally:
            await self._cancel_sends()

    async def drain(self) -> None:
        """Send every file due now, waiting for the sends (`appliance transfers run`)."""
        while True:
            self._start_due()
            if not self._sending:
                return
            await asyncio.wait(self._sending, return_when=asyncio.FIRST_COMPLETED)

    async def _scan_logged(self) -> None:
        """Scan; a failure is an event once, not again until a scan has worked."""
        try:
            await self.scan()
        except (OSError, LocationError, sqlite3.Error) as error:
            if not self._scan_failing:
                self.emit(
                    SCAN_FAILED,
                    self.plan.component,
                    transfer=self.plan.id,
                    source=self.source.describe(self.plan.source_path),
                    error=str(error) or error.__class__.__name__,
                )
            self._scan_failing = True
        else:
            self._scan_failing = False

    def _start_due(self) -> None:
        free = self.plan.max_parallel - len(self._sending)
        if free <= 0:
            return
        for record in self.queue.claim_due(self.plan.id, free):
            task = asyncio.create_task(self._send(record))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            # The queue could not record the outcome: the row stays `sending` until the next
            # start resumes it (and looks at the destination first).
            log.error(
                "transfer %s: recording a send failed", self.plan.id, exc_info=task.exception()
            )

    async def _sleep(self, next_scan: float | None) -> None:
        now_wall, now = time.time(), time.monotonic()
        deadlines = [MAX_SLEEP]
        if next_scan is not None:
            deadlines.append(next_scan - now)
        due = self.queue.next_due(self.plan.id)
        if due is not None and len(self._sending) < self.plan.max_parallel:
            deadlines.append(due - now_wall)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, min(deadlines)))

    async def _cancel_sends(self) -> None:
        for task in list(self._sending):
            task.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send(self, record: QueuedFile) -> None:
        destination = self.destination.describe(final_name(self.plan, record))
        self.emit(
            STARTED,
            self.plan.component,
            transfer=self.plan.id,
            source=self.source.describe(record.source_path),
            destination=destination,
            attempt=record.attempts,
        )
        try:
            async with self.source.session() as source, self.destination.session() as target:
                delivery = await deliver(self.plan, record, source, target)
        except asyncio.CancelledError:
            self.queue.release(record)  # a stop or reload: due again at the next start
            raise
        except PermanentTransferError as error:
            self._fail(record, str(error))
        except SourceChanged as error:
            log.info("transfer %s: %s: %s", self.plan.id, record.source_path, error)
            self.queue.drop(record)
            await self._scan_logged()
        except (OSError, LocationError) as error:
            self._retry_or_fail(record, str(error) or error.__class__.__name__)
        except Exception as error:  # a bug must not kill the runner: the file is retried
            log.exception("transfer %s: sending %s crashed", self.plan.id, record.source_path)
            self._retry_or_fail(record, f"{error.__class__.__name__}: {error}")
        else:
            self._done(record, destination, delivery)

    def _done(self, record: QueuedFile, destination: str, delivery: Delivery) -> None:
        self.emit(
            COMPLETED,
            self.plan.component,
            transfer=self.plan.id,
            source=self.source.describe(record.source_path),
            destination=destination,
            bytes=delivery.bytes,
            duration=round(delivery.duration, 3),
            sha256=delivery.sha256,
            attempt=record.attempts,
            how=delivery.how,
        )
        self.queue.mark_done(record, delivery.sha256)

    def _retry_or_fail(self, record: QueuedFile, error: str) -> None:
        if record.attempts > self.plan.retries:
            self._fail(record, error)
            return
        delay = retry_delay(record.attempts, self.plan.retry_delay, self.plan.retry_max_delay)
        self.queue.mark_retry(record, error, time.time() + delay)
        self.emit(
            RETRY_SCHEDULED,
            self.plan.component,
            transfer=self.plan.id,
            source=self.source.describe(record.source_path),
            error=error,
            attempt=record.attempts,
            retries=self.plan.retries,
            retry_in=delay,
        )

    def _fail(self, record: QueuedFile, error: str) -> None:
        self.queue.mark_failed(record, error)
        self.emit(
            FAILED,
            self.plan.component,
            transfer=self.plan.id,
            source=self.source.describe(record.source_path),
            error=error,
            attempts=record.attempts,
        )


def _source_key(plan: TransferPlan, name: str) -> str:
    """What the queue records as the source path: relative to the source location."""
    return join(plan.source_path, name)


def _plain_name(name: str) -> bool:
    """A name a listing may give: never a path (a hostile server could send `../x`)."""
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name
