"""Protocol services: thin adapters from a protocol onto the shared AAA, filesystem and events.

SERVICE_TYPES maps a [services/<id>] `type` to the class serving it. Each class takes
(section, context), and has `async start()`, `async stop()`, and `listening` (address, port).
"""

from __future__ import annotations

SERVICE_TYPES: dict[str, type] = {}


def register(service_type: str):
    def decorate(cls: type) -> type:
        SERVICE_TYPES[service_type] = cls
        return cls

    return decorate
