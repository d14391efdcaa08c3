"""`appliance ha status`: role, generation, age of the copy, and whether the copies match.

On the passive, "match" compares the live files with the accepted manifest; on the active,
the configuration as it is now with the generation last pushed (a difference means the
next sync makes a new generation).
"""

from __future__ import annotations

from appliance.config import ConfigError
from appliance.ha.accept import MANIFEST
from appliance.ha.demote import services_running
from appliance.ha.manifest import Manifest, ManifestError, verify
from appliance.ha.state import ACTIVE, StateStore
from appliance.ha.sync import current_manifest


def status(store: StateStore) -> dict:
    pair = store.pair
    state = store.load()
    age = state.age_seconds()
    report = {
        "node": pair.this.id,
        "role": state.role,
        "role_since": state.role_since,
        "peer": f"{pair.peer.id} ({pair.peer.address})",
        "generation": state.generation,
        "previous_generation": state.previous,
        "source_node": state.source_node,
        "age_seconds": round(age, 1) if age is not None else None,
        "max_staleness": pair["max_staleness"],
        "services_running": services_running(pair),
        "copies_match": None,
        "differences": [],
    }
    if not state.generation:
        report["differences"] = ["nothing synced yet"]
        return report
    if state.role == ACTIVE:
        try:
            now = current_manifest(store, state.generation)
        except ConfigError as error:
            report["copies_match"] = False
            report["differences"] = [str(problem) for problem in error.problems]
            return report
        report["copies_match"] = now.digest == state.digest
        if not report["copies_match"]:
            report["differences"] = ["configuration changed since the last sync"]
        return report
    try:
        manifest = Manifest.load(store.generation_folder(state.generation) / MANIFEST)
    except ManifestError as error:
        report["copies_match"] = False
        report["differences"] = [str(error)]
        return report
    mismatches = verify(manifest, pair.config_folder)
    report["copies_match"] = not mismatches
    report["differences"] = [str(mismatch) for mismatch in mismatches]
    return report


def format_status(report: dict) -> str:
    age = report["age_seconds"]
    match = {True: "yes", False: "no", None: "-"}[report["copies_match"]]
    lines = [
        f"node            {report['node']} ({report['role']} since {report['role_since'] or '-'})",
        f"peer            {report['peer']}",
        f"generation      {report['generation']} (previous {report['previous_generation']}, "
        f"from {report['source_node'] or '-'})",
        f"age             {'-' if age is None else f'{age:.0f} s'} "
        f"(max_staleness {report['max_staleness']} s)",
        f"copies match    {match}",
        f"services        {'running' if report['services_running'] else 'stopped'}",
    ]
    lines += [f"  difference    {difference}" for difference in report["differences"]]
    return "\n".join(lines)
