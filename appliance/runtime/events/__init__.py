"""Accounting: the event catalogue, the event bus and the sinks that record events."""

from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import Event

__all__ = ["Event", "EventBus"]
