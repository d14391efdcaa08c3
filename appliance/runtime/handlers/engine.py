"""Runs file handlers on a worker pool, fed by the event bus; rebuilt on reload."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from appliance.config import Config
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import Event
from appliance.runtime.handlers.base import FileHandler
from appliance.runtime.handlers.dispatcher import FileDispatcher
from appliance.runtime.handlers.external_command import ExternalCommand
from appliance.runtime.handlers.signature import SignatureCheck

log = logging.getLogger(__name__)

FILE_HANDLER_TYPES: dict[str, type[FileHandler]] = {
    "file-dispatcher": FileDispatcher,
    "signature-check": SignatureCheck,
    "external-command": ExternalCommand,
}


def build_handlers(config: Config, bus: EventBus) -> list[FileHandler]:
    return [
        FILE_HANDLER_TYPES[section.type](section, bus)
        for section in config.event_handlers.values()
        if section.enabled and section.type in FILE_HANDLER_TYPES
    ]


class HandlerEngine:
    def __init__(self, bus: EventBus, workers: int = 4) -> None:
        self.bus = bus
        self.handlers: list[FileHandler] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler")
        bus.subscribe(self._on_event)

    def configure(self, config: Config) -> None:
        old, self.handlers = self.handlers, build_handlers(config, self.bus)
        for handler in old:
            getattr(handler, "close", lambda: None)()

    def _on_event(self, event: Event) -> None:
        for handler in self.handlers:
            if handler.triggered_by(event):
                self._pool.submit(self._run, handler, event)

    @staticmethod
    def _run(handler: FileHandler, event: Event) -> None:
        try:
            handler.run(event)
        except Exception:
            log.exception("handler %s crashed on event %s", handler.id, event.id)

    def close(self) -> None:
        self.bus.unsubscribe(self._on_event)
        self._pool.shutdown(wait=True)
        for handler in self.handlers:
            getattr(handler, "close", lambda: None)()
