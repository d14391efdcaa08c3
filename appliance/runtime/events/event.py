"""One event: what happened, when, to whom, from where, with structured data."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appliance.runtime.events.catalogue import EventType, event_type


@dataclass(frozen=True)
class Event:
    id: int
    component: str
    message: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    account: str | None = None
    peer: str | None = None
    data: dict = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def type(self) -> EventType:
        return event_type(self.id)

    @property
    def durable(self) -> bool:
        return self.type.durable

    @property
    def timestamp(self) -> str:
        return self.time.isoformat(timespec="microseconds").replace("+00:00", "Z")

    @property
    def peer_address(self) -> str | None:
        """The address part of `peer` ("[::1]:22" gives "::1", "10.0.0.1:22" gives "10.0.0.1")."""
        if not self.peer:
            return None
        if self.peer.startswith("["):
            return self.peer[1 : self.peer.index("]")]
        if self.peer.count(":") == 1:
            return self.peer.split(":", 1)[0]
        return self.peer

    def as_dict(self) -> dict:
        event = self.type
        return {
            "id": self.id,
            "name": event.name,
            "uuid": self.uuid,
            "time": self.timestamp,
            "severity": str(event.severity),
            "group": str(event.operation),
            "component": self.component,
            "account": self.account,
            "peer": self.peer,
            "message": self.message,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, default=str)


def format_peer(address: str, port: int | None = None) -> str:
    """ "10.0.0.1:2222" or "[2001:db8::1]:2222"; the form every event and ban uses."""
    if port is None:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def make_event(
    event_id: int,
    component: str,
    *,
    account: str | None = None,
    peer: str | None = None,
    **data: object,
) -> Event:
    """Build an event from the catalogue, rendering its message from the data."""
    event = event_type(event_id)
    values = {"account": account or "-", "peer": peer or "-", "component": component, **data}
    return Event(
        id=event_id,
        component=component,
        message=event.render(values),
        account=account,
        peer=peer,
        data=data,
    )
