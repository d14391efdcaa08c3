"""What every service shares: the current configuration and the event bus (AAA joins it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.config import Config
from appliance.runtime.events.bus import EventBus


@dataclass
class RuntimeContext:
    config: Config
    bus: EventBus
    extras: dict = field(default_factory=dict)
