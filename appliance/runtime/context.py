"""What every service shares: the configuration, the event bus, AAA and the shared state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.runtime.events.bus import EventBus

if TYPE_CHECKING:
    from appliance.runtime.aaa.core import AAA
    from appliance.runtime.shared.state import SharedState


@dataclass
class RuntimeContext:
    config: Config
    bus: EventBus
    aaa: AAA | None = None
    shared_state: SharedState | None = None
    """What nodes behind one load balancer share (bans, ended sessions); None: nothing."""
    extras: dict = field(default_factory=dict)

    @property
    def upload_temporary_grace(self) -> int:
        """[server] upload_temporary_grace: when an upload temporary counts as orphaned."""
        return self.config.server.options.get("upload_temporary_grace", 3600)
