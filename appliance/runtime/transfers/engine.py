"""The transfers engine inside the runtime: its own thread and asyncio loop, rebuilt on reload.

The protocol services' loops never wait on a transfer: the bus listener only hands the
file path over to this loop (`call_soon_threadsafe`). No thread is started while no
transfer is configured. `run_transfer_now` is the same code for `appliance transfers run`,
on a loop of the command's own, with or without the runtime running (claims in the queue are
atomic, so the two never send the same file).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from appliance.config import Config
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import Event
from appliance.runtime.transfers.location import Location
from appliance.runtime.transfers.queue import TransferQueue, queue_path
from appliance.runtime.transfers.runner import TransferRunner
from appliance.runtime.transfers.settings import build_locations, plans

log = logging.getLogger(__name__)

UPLOAD_COMPLETED = 20050
HANDLER_SUCCEEDED = 50001
APPLY_TIMEOUT = 60.0


def transfers_signature(config: Config) -> tuple:
    """What the engine is built from; a reload that changes none of it leaves the engine be."""
    return (
        config.data_folder,
        *((s.name, s.source, s.options) for s in config.locations.values()),
        *((s.name, s.source, s.options) for s in config.transfers.values()),
    )


class TransferEngine:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._signature: tuple | None = None
        self._queue: TransferQueue | None = None
        self._locations: dict[str, Location] = {}
        self._runners: dict[str, TransferRunner] = {}
        self._tasks: list[asyncio.Task] = []
        self._resumed = False
        bus.subscribe(self._on_event)

    # -- called from the supervisor's thread ---------------------------------
    def configure(self, config: Config) -> None:
        """Apply `config` (start and reload); waits until the new runners are started."""
        signature = transfers_signature(config)
        if signature == self._signature:
            return
        self._signature = signature
        if not config.transfers and self._loop is None:
            return
        self._call(self._apply(config)).result(APPLY_TIMEOUT)

    def close(self) -> None:
        self.bus.unsubscribe(self._on_event)
        if self._loop is None:
            return
        self._call(self._stop_all()).result(APPLY_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(APPLY_TIMEOUT)
        self._loop.close()
        self._loop = None
        if self._queue is not None:
            self._queue.close()

    def _call(self, coroutine) -> Future:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="transfers", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _on_event(self, event: Event) -> None:
        """Bus listener, in the emitter's thread: hand completed local files to the loop."""
        if event.id not in (UPLOAD_COMPLETED, HANDLER_SUCCEEDED) or self._loop is None:
            return
        real_path = event.data.get("real_path")
        if real_path:
            self._loop.call_soon_threadsafe(self._offer, Path(str(real_path)))

    # -- on the engine's loop ----------------------------------------------------
    def _offer(self, real_path: Path) -> None:
        for runner in self._runners.values():
            if runner.plan.trigger == "event":
                runner.offer(real_path)

    async def _apply(self, config: Config) -> None:
        await self._stop_all()
        path = queue_path(config.data_folder)
        if self._queue is None or self._queue.path != path:
            if self._queue is not None:
                self._queue.close()
            self._queue = TransferQueue(path)
            self._resumed = False
        if not self._resumed:
            # Rows left `sending` by a crash: due again, looked for at the destination first.
            self._queue.resume_interrupted()
            self._resumed = True
        self._locations = build_locations(config, self.bus.emit)
        self._runners = {
            plan.id: TransferRunner(plan, self._queue, self._locations, self.bus.emit)
            for plan in plans(config).values()
            if plan.enabled
        }
        for runner in self._runners.values():
            self._tasks.append(asyncio.create_task(runner.run_forever()))

    async def _stop_all(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        locations, self._locations = self._locations, {}
        for location in locations.values():
            await location.close()
        self._runners = {}


async def run_transfer_now(config: Config, transfer_id: str, bus: EventBus) -> int:
    """Scan the source of `transfer_id` and send every due file now; how many were queued."""
    plan = plans(config)[transfer_id]
    queue = TransferQueue(queue_path(config.data_folder))
    locations = build_locations(config, bus.emit)
    try:
        runner = TransferRunner(plan, queue, locations, bus.emit)
        queued = await runner.scan()
        await runner.drain()
        return queued
    finally:
        for location in locations.values():
            await location.close()
        queue.close()
