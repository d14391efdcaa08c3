"""Build the shared state that `[server] shared_state` names (None when it names nothing)."""

from __future__ import annotations

from appliance.config import Config
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.shared.state import SharedState


def shared_state_key(config: Config) -> tuple | None:
    """What decides the store: a reload that keeps this keeps the running store."""
    resource_id = config.server.options.get("shared_state")
    if not resource_id:
        return None
    return (resource_id, tuple(sorted(config.resources[resource_id].options.items())))


def build_shared_state(config: Config) -> SharedState | None:
    resource_id = config.server.options.get("shared_state")
    if not resource_id:
        return None
    from appliance.runtime.shared.postgresql import PostgreSQLState

    resource = PostgreSQLResource.from_section(config.resources[resource_id])
    return PostgreSQLState(resource, node=config.server.options.get("name", "appliance"))
