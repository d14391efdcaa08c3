"""A plain text log: one line per event, `ID TIMESTAMP COMPONENT ACCOUNT PEER MESSAGE`."""

from __future__ import annotations

from pathlib import Path

from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.printable import printable
from appliance.runtime.events.sinks.base import Sink
from appliance.runtime.events.sinks.group_files import share_with_group


def format_line(event: Event) -> str:
    """The one-line form of the text log, the `serve` echo and `appliance events`."""
    return " ".join(
        printable(field)
        for field in (
            event.id,
            event.timestamp,
            event.component,
            event.account or "-",
            event.peer or "-",
            event.message,
        )
    )


class TextLogSink(Sink):
    def __init__(self, handler_id: str, path: Path, event_filter: EventFilter | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        share_with_group(self.path)
        super().__init__(handler_id, event_filter)

    def deliver(self, batch: list[Event]) -> None:
        self._file.write("".join(format_line(event) + "\n" for event in batch))
        self._file.flush()

    def shutdown(self) -> None:
        self._file.close()
