"""Which events a handler receives: ids (with !exclusions), groups, accounts, components, peers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.runtime.events.event import Event


@dataclass(frozen=True)
class EventFilter:
    """An empty criterion matches everything; all non-empty criteria must match."""

    include_ids: frozenset[int] = frozenset()
    exclude_ids: frozenset[int] = frozenset()
    groups: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    components: tuple[str, ...] = ()
    source_addresses: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_options(cls, options: dict) -> EventFilter:
        """Build from a validated [event-handlers/<id>] section."""
        include, exclude = parse_targets(options.get("target") or [])
        return cls(
            include_ids=frozenset(include),
            exclude_ids=frozenset(exclude),
            groups=frozenset(options.get("groups") or []),
            accounts=frozenset(options.get("accounts") or []),
            components=tuple(options.get("components") or []),
            source_addresses=tuple(
                ipaddress.ip_network(net, strict=False)
                for net in options.get("source_addresses") or []
            ),
        )

    def matches(self, event: Event) -> bool:
        if event.id in self.exclude_ids:
            return False
        if self.include_ids and event.id not in self.include_ids:
            return False
        if self.groups and not self.groups & _event_groups(event):
            return False
        if self.accounts and event.account not in self.accounts:
            return False
        if self.components and not any(
            event.component == c or event.component.startswith(c + "/") for c in self.components
        ):
            return False
        return not self.source_addresses or _address_in(event.peer_address, self.source_addresses)


def parse_targets(targets: Iterable[str]) -> tuple[list[int], list[int]]:
    """Split `target` values like "20050", "!20058" into included and excluded ids."""
    include: list[int] = []
    exclude: list[int] = []
    for target in targets:
        text = str(target).strip()
        if text.startswith("!"):
            exclude.append(int(text[1:]))
        else:
            include.append(int(text))
    return include, exclude


def _event_groups(event: Event) -> set[str]:
    event_type = event.type
    return {str(event_type.operation), str(event_type.severity)}


def _address_in(address: str | None, networks: tuple) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks if network.version == ip.version)
