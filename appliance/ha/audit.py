"""HA commands record their events in the node's own audit sinks, as configured in server.ini."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from appliance.config import ConfigError, load_config
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
        _give_to_folder_owner(
            [sink.path for sink in sinks if isinstance(getattr(sink, "path", None), Path)]
        )


def _give_to_folder_owner(paths: list[Path]) -> None:
    """HA commands run as root; the audit files they create belong to the owner of their
    folder (the runtime's account), or `appliance serve` could not write them after a
    promotion."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    for path in paths:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            try:
                folder, found = file.parent.stat(), file.stat()
                if (found.st_uid, found.st_gid) != (folder.st_uid, folder.st_gid):
                    os.chown(file, folder.st_uid, folder.st_gid)
            except FileNotFoundError:
                continue
