"""At start: remove the upload temporaries an interrupted process left in the home folders."""

from __future__ import annotations

import logging

from appliance.config import Config
from appliance.config.homes import home_roots
from appliance.runtime.events.bus import EventBus
from appliance.runtime.fs import atomic

log = logging.getLogger(__name__)


def sweep_orphaned_temporaries(config: Config, bus: EventBus, grace: float) -> int:
    """Remove every orphaned `.~upload-*.part` below the home folders, with event 20060 for
    each; the number removed. A file that cannot be removed is logged and left."""
    try:
        return _sweep(config, bus, grace)
    except Exception:  # a sweep is housekeeping: it must never take the server down
        log.exception("sweeping orphaned upload temporaries failed")
        return 0


def _sweep(config: Config, bus: EventBus, grace: float) -> int:
    removed = 0
    for root in home_roots(config):
        if not root.is_dir():
            continue
        for path in atomic.orphaned_temporaries(root, grace):
            try:
                size = path.lstat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                log.warning("orphaned upload temporary %s not removed: %s", path, error)
                continue
            removed += 1
            bus.emit(20060, "server", path=str(path), bytes=size, grace=grace)
    return removed
