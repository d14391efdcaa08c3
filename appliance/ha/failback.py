"""Planned failback, run on the promoted node: hand the active role back to the other node.

1. the other node is demoted (its services stopped, role passive) over the sync transport;
2. this node syncs to it, so what changed here while it was promoted goes back;
3. this node stops its services and becomes passive;
4. the other node is promoted (its own checks and drill report).
When step 4 fails this node takes the active role back and starts its services again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from appliance.ha.demote import demote
from appliance.ha.services import start_services
from appliance.ha.state import ACTIVE, StateStore
from appliance.ha.sync import sync
from appliance.ha.transport import run_on
from appliance.runtime.events.bus import EventBus


class FailbackFailed(Exception):
    """Failback did not complete; the message says at which step."""


@dataclass(frozen=True)
class FailbackResult:
    generation: int
    peer_report: dict


def failback(store: StateStore, bus: EventBus, *, force: bool = False) -> FailbackResult:
    pair = store.pair
    peer = pair.peer
    if store.load().role != ACTIVE:
        raise FailbackFailed(f"node {pair.this.id} is not active: run failback on the active node")

    def failed(step: str) -> FailbackFailed:
        bus.emit(70010, "ha", peer_node=peer.id, error=step)
        return FailbackFailed(step)

    reason = f"failback from {pair.this.id}"
    answer = run_on(
        pair, peer, peer.appliance("ha", "demote", "-c", peer.config_folder, "--reason", reason)
    )
    if answer.exit_status != 0:
        raise failed(f"demoting {peer.id} failed: {answer.stdout} {answer.stderr}".strip())
    result = sync(store, bus)
    generation = result.generation if result else store.load().generation
    demote(store, bus, reason=f"failback to {peer.id}")
    arguments = ["ha", "promote", "-c", peer.config_folder, "--json"]
    answer = run_on(pair, peer, peer.appliance(*arguments, *(["--force"] if force else [])))
    if answer.exit_status != 0:
        state = store.load()
        store.set_role(state, ACTIVE)
        start_services(pair)
        raise failed(f"promoting {peer.id} failed: {answer.stdout} {answer.stderr}".strip())
    try:
        report = json.loads(answer.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        report = {"output": answer.stdout}
    bus.emit(70009, "ha", peer_node=peer.id, generation=generation)
    return FailbackResult(generation, report)
