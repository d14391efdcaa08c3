"""Demotion: stop this node's services and make it passive (failback, or before a node returns)."""

from __future__ import annotations

from appliance.config import ConfigError, load_config
from appliance.ha.pair import Pair
from appliance.ha.services import running_pid, stop_services
from appliance.ha.state import PASSIVE, StateStore
from appliance.runtime.events.bus import EventBus


def services_running(pair: Pair) -> bool:
    try:
        return running_pid(load_config(pair.config_folder)) is not None
    except ConfigError:
        return False


def demote(store: StateStore, bus: EventBus, reason: str) -> bool:
    """Stop the services (if running) and set the role to passive; False if already passive."""
    state = store.load()
    try:
        config = load_config(store.pair.config_folder)
    except ConfigError:
        config = None
    if config is not None:
        stop_services(store.pair, config)
    if state.role == PASSIVE:
        return False
    store.set_role(state, PASSIVE)
    bus.emit(70008, "ha", reason=reason)
    return True
