"""The active side of a sync: build the manifest, push a new generation (or confirm it), retry.

Unchanged configuration makes no new generation: the passive only confirms that its copy
still matches, which refreshes the copy's age. Each failed try emits event 70002; a
refusal by the passive is final for this run (retrying would not change its answer).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.config import load_config
from appliance.ha.accept import BLOBS, MANIFEST, NEEDS_FULL_SYNC
from appliance.ha.files import configuration_files
from appliance.ha.manifest import Manifest, build_manifest, live_path
from appliance.ha.state import PASSIVE, StateStore, iso, now
from appliance.ha.transport import TransportError, Upload, run_on
from appliance.runtime.events.bus import EventBus


class SyncRefused(Exception):
    """The passive refused the generation; the message is its answer."""


@dataclass(frozen=True)
class SyncResult:
    generation: int
    files: int
    pushed: bool
    """False when the passive only confirmed an unchanged generation."""
    message: str


def current_manifest(store: StateStore, generation: int) -> Manifest:
    """The manifest of this node's configuration as it is now (validated first)."""
    config = load_config(store.pair.config_folder)
    return build_manifest(
        store.pair.config_folder,
        configuration_files(config),
        generation=generation,
        source_node=store.pair.this.id,
        created=iso(now()),
    )


def _push(store: StateStore, manifest: Manifest) -> str:
    pair = store.pair
    remote = f"{pair.peer_state_folder()}/incoming/{manifest.generation}"
    with tempfile.TemporaryDirectory(prefix="appliance-ha-") as temporary:
        manifest_file = Path(temporary) / MANIFEST
        manifest_file.write_bytes(manifest.to_json())
        uploads = [Upload(manifest_file, f"{remote}/{MANIFEST}")]
        uploads += [
            Upload(live_path(pair.config_folder, entry.path), f"{remote}/{BLOBS}/{entry.sha256}")
            for entry in {entry.sha256: entry for entry in manifest.entries}.values()
        ]
        command = pair.peer.appliance(
            "ha", "accept", "-c", pair.peer.config_folder, "--generation", str(manifest.generation)
        )
        result = run_on(pair, pair.peer, command, uploads=uploads, folders=[f"{remote}/{BLOBS}"])
    if result.exit_status != 0:
        raise SyncRefused((result.stdout + "\n" + result.stderr).strip())
    return result.stdout.strip()


def _confirm(store: StateStore, generation: int, digest: str) -> bool:
    pair = store.pair
    command = pair.peer.appliance(
        "ha", "accept", "-c", pair.peer.config_folder, "--generation", str(generation),
        "--confirm", digest,
    )  # fmt: skip
    result = run_on(pair, pair.peer, command)
    if result.exit_status == NEEDS_FULL_SYNC:
        return False
    if result.exit_status != 0:
        raise SyncRefused((result.stdout + "\n" + result.stderr).strip())
    return True


def sync_once(store: StateStore) -> SyncResult:
    state = store.load()
    manifest = current_manifest(store, state.generation)
    unchanged = state.generation and manifest.digest == state.digest
    if unchanged and _confirm(store, state.generation, manifest.digest):
        state.confirmed_at = iso(now())
        store.save(state)
        return SyncResult(
            state.generation, len(manifest.entries), False, "unchanged; passive confirmed"
        )
    generation = state.generation + 1
    manifest = Manifest(generation, manifest.source_node, manifest.created, manifest.entries)
    answer = _push(store, manifest)
    folder = store.generation_folder(generation)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_bytes(manifest.to_json())
    state.previous, state.generation = state.generation, generation
    state.digest, state.source_node = manifest.digest, store.pair.this.id
    state.confirmed_at = iso(now())
    store.save(state)
    store.keep_only(state.generation, state.previous)
    return SyncResult(generation, len(manifest.entries), True, answer)


def sync(store: StateStore, bus: EventBus, *, attempts: int | None = None) -> SyncResult | None:
    """Push to the peer with retries; None when this node is passive (nothing to push)."""
    pair = store.pair
    if store.load().role == PASSIVE:
        return None
    attempts = attempts or pair["sync_attempts"]
    for attempt in range(1, attempts + 1):
        try:
            result = sync_once(store)
        except SyncRefused as refusal:
            bus.emit(
                70002, "ha", peer_node=pair.peer.id, error=str(refusal), attempt=attempt,
                attempts=attempt,
            )  # fmt: skip
            raise
        except TransportError as error:
            bus.emit(
                70002, "ha", peer_node=pair.peer.id, error=str(error), attempt=attempt,
                attempts=attempts,
            )  # fmt: skip
            if attempt == attempts:
                raise
            time.sleep(pair["sync_retry_delay"])
            continue
        bus.emit(
            70001, "ha", generation=result.generation, peer_node=pair.peer.id, files=result.files
        )
        return result
    return None
