"""Promotion of the passive node (the DR drill): check the copy, start the services, time a login.

Refused when the live files differ from the latest accepted manifest (never overridable:
re-sync or restore the file), and, unless forced, when the copy is older than
`max_staleness` or the other node still answers on a service port.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import paramiko

from appliance.config import ConfigError, load_config
from appliance.ha.accept import MANIFEST
from appliance.ha.manifest import Manifest, ManifestError, verify
from appliance.ha.probe import answering_ports, listening_ports, sftp_login
from appliance.ha.services import start_services
from appliance.ha.state import ACTIVE, StateStore
from appliance.runtime.events.bus import EventBus


class PromoteRefused(Exception):
    """Promotion did not happen; the message says why and what to do."""


@dataclass
class DrillReport:
    node: str
    generation: int
    source_node: str
    digest: str
    files_verified: int
    staleness_seconds: float
    max_staleness: int
    peer_address: str
    peer_answering: list[int]
    forced: bool
    services_started_seconds: float = 0.0
    first_login_seconds: float | None = None
    login: dict = field(default_factory=dict)
    login_error: str = ""


def _refuse(bus: EventBus, generation: int, reason: str) -> PromoteRefused:
    bus.emit(70006, "ha", generation=generation, reason=reason)
    return PromoteRefused(reason)


def promote(store: StateStore, bus: EventBus, *, force: bool = False) -> DrillReport:
    started = time.monotonic()
    pair = store.pair
    state = store.load()
    if state.role == ACTIVE:
        raise PromoteRefused(f"node {pair.this.id} is already active")
    if not state.generation:
        raise _refuse(bus, 0, "no generation has been synced to this node yet")
    try:
        manifest = Manifest.load(store.generation_folder(state.generation) / MANIFEST)
    except ManifestError as error:
        reason = f"manifest of generation {state.generation}: {error}"
        raise _refuse(bus, state.generation, reason) from None
    if manifest.digest != state.digest:
        raise _refuse(bus, state.generation, "the stored manifest is not the one accepted")
    mismatches = verify(manifest, pair.config_folder)
    if mismatches:
        listed = "; ".join(str(mismatch) for mismatch in mismatches)
        raise _refuse(
            bus,
            state.generation,
            f"files differ from the manifest of generation {state.generation}: {listed} "
            "(re-sync from the active or restore these files)",
        )
    try:
        config = load_config(pair.config_folder)
    except ConfigError as error:
        raise _refuse(bus, state.generation, f"configuration invalid: {error}") from None
    staleness = state.age_seconds() or 0.0
    if staleness > pair["max_staleness"] and not force:
        raise _refuse(
            bus,
            state.generation,
            f"the copy was last confirmed {staleness:.0f} s ago, more than max_staleness "
            f"{pair['max_staleness']} s (use --force to promote it anyway)",
        )
    answering = answering_ports(pair.peer.address, listening_ports(config))
    if answering and not force:
        ports = ", ".join(str(port) for port in answering)
        raise _refuse(
            bus,
            state.generation,
            f"node {pair.peer.id} ({pair.peer.address}) still answers on port {ports}: "
            "stop it first, or use --force if it is unreachable for clients",
        )
    report = DrillReport(
        node=pair.this.id,
        generation=state.generation,
        source_node=state.source_node,
        digest=state.digest,
        files_verified=len(manifest.entries),
        staleness_seconds=round(staleness, 3),
        max_staleness=pair["max_staleness"],
        peer_address=pair.peer.address,
        peer_answering=answering,
        forced=force,
    )
    store.set_role(state, ACTIVE)
    bus.emit(70003, "ha", generation=state.generation, age=round(staleness, 3))
    start_services(pair)
    report.services_started_seconds = round(time.monotonic() - started, 3)
    _first_login(store, config, report, started)
    bus.emit(
        70007,
        "ha",
        generation=report.generation,
        staleness_seconds=report.staleness_seconds,
        first_login_seconds=report.first_login_seconds,
        forced=force,
    )
    return report


def _first_login(store: StateStore, config, report: DrillReport, started: float) -> None:
    pair = store.pair
    account, key = pair.options.get("probe_account"), pair.path("probe_private_key")
    if not (account and key):
        report.login_error = "not measured: set probe_account and probe_private_key in ha.ini"
        return
    deadline = started + pair["probe_timeout"]
    while True:
        try:
            login = sftp_login(config, account, key, timeout=5)
        except (OSError, paramiko.SSHException, EOFError) as error:
            if time.monotonic() > deadline:
                timeout = pair["probe_timeout"]
                report.login_error = f"no successful login within {timeout} s: {error}"
                return
            time.sleep(0.1)
            continue
        report.first_login_seconds = round(time.monotonic() - started, 3)
        report.login = {
            "address": login.address,
            "port": login.port,
            "account": login.account,
            "host_key": login.host_key_fingerprint,
        }
        return
