"""HA commands record their events in the node's own audit sinks, as configured in server.ini."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from appliance.config import ConfigError, load_config
from appliance.ha.ownership import give_files_to_folder_owner
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.setup import build_sinks
from appliance.runtime.events.sinks.textlog import format_line


@contextlib.contextmanager
def event_bus(config_folder: Path, *, echo: bool = False) -> Iterator[EventBus]:
    """A bus over the sinks of the node's configuration (none when it has no valid one yet)."""
    try:
        sinks = build_sinks(load_config(config_folder))
    except (ConfigError, OSError):
        sinks = []  # a passive node before its first generation
    bus = EventBus(sinks)
    if echo:
        bus.subscribe(lambda event: print(format_line(event), file=sys.stderr, flush=True))
    try:
        yield bus
    finally:
        bus.close()
        give_files_to_folder_owner(
            sink.path for sink in sinks if isinstance(getattr(sink, "path", None), Path)
        )
