"""What every service shares: the current configuration and the event bus (AAA joins it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.runtime.events.bus import EventBus

if TYPE_CHECKING:
    from appliance.runtime.aaa.core import AAA


@dataclass
class RuntimeContext:
    config: Config
    bus: EventBus
    aaa: AAA | None = None
    extras: dict = field(default_factory=dict)
