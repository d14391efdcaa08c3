"""The passive side of a sync: verify an uploaded generation, install it, keep the previous one.

The active uploads `incoming/<N>/manifest.json` and one blob per file named by its SHA-256,
then runs `appliance ha accept`. Nothing is installed unless every blob matches the
manifest; a failed installation puts the previous generation back. A node whose role is
active refuses (it would overwrite a running configuration).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from appliance.ha.manifest import (
    POSIX,
    Manifest,
    ManifestError,
    live_path,
    sha256_file,
    verify,
)
from appliance.ha.state import ACTIVE, StateStore, iso, now, write_atomically
from appliance.runtime.events.bus import EventBus

if POSIX:
    import grp
    import pwd

MANIFEST = "manifest.json"
BLOBS = "blobs"

ACCEPTED, CONFIRMED, NEEDS_FULL_SYNC, REFUSED = 0, 0, 3, 1


@dataclass(frozen=True)
class Outcome:
    exit_status: int
    message: str


def _check_blobs(manifest: Manifest, folder: Path) -> list[str]:
    problems = []
    for entry in manifest.entries:
        blob = folder / BLOBS / entry.sha256
        if not blob.is_file():
            problems.append(f"{entry.path}: not uploaded")
        elif sha256_file(blob) != entry.sha256:
            problems.append(f"{entry.path}: uploaded copy does not match its SHA-256")
    return problems


def _ownership_problems(manifest: Manifest) -> list[str]:
    """An unprivileged sync account can only install files that it owns, in its groups."""
    if not POSIX or os.geteuid() == 0:
        return []
    me = pwd.getpwuid(os.geteuid()).pw_name
    my_groups = {_group_name(gid) for gid in {os.getegid(), *os.getgroups()}}
    return [
        f"{entry.path} is owned by {entry.owner}:{entry.group} on {manifest.source_node}; "
        f"the sync account {me} installs only files owned by {me} and one of its groups: "
        f"chown {me} it there"
        for entry in manifest.entries
        if entry.owner and (entry.owner != me or entry.group not in my_groups)
    ]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:  # a group id without a name, as manifest.describe() records it
        return str(gid)


def _install_file(target: Path, source: Path, mode: str, owner: str, group: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, source.read_bytes(), int(mode, 8))
    if POSIX and owner:
        shutil.chown(target, owner if os.geteuid() == 0 else None, group)


def install(manifest: Manifest, blobs: Path, root: Path, previous: Manifest | None) -> None:
    """Put every file of the manifest in place; remove files the previous one had and it lacks."""
    for entry in manifest.entries:
        _install_file(
            live_path(root, entry.path), blobs / entry.sha256, entry.mode, entry.owner, entry.group
        )
    if previous is not None:
        kept = {entry.path for entry in manifest.entries}
        for entry in previous.entries:
            if entry.path not in kept:
                live_path(root, entry.path).unlink(missing_ok=True)


def accept(store: StateStore, generation: int, bus: EventBus) -> Outcome:
    """Verify and install incoming generation `generation`."""
    root = store.pair.config_folder
    state = store.load()
    incoming = store.incoming_folder(generation)

    def refuse(error: str, source: str = "?") -> Outcome:
        bus.emit(70005, "ha", generation=generation, source_node=source, error=error)
        shutil.rmtree(incoming, ignore_errors=True)
        return Outcome(REFUSED, f"generation {generation} refused: {error}")

    try:
        manifest = Manifest.load(incoming / MANIFEST)
    except ManifestError as error:
        return refuse(str(error))
    if state.role == ACTIVE:
        return refuse("this node is active; demote it first", manifest.source_node)
    if manifest.generation != generation or generation <= state.generation:
        return refuse(
            f"generation {manifest.generation} is not newer than {state.generation}",
            manifest.source_node,
        )
    problems = _check_blobs(manifest, incoming) + _ownership_problems(manifest)
    if problems:
        return refuse("; ".join(problems), manifest.source_node)
    previous = _load_current(store, state.generation)
    try:
        install(manifest, incoming / BLOBS, root, previous)
    except OSError as error:
        if previous is not None:
            install(previous, store.generation_folder(previous.generation) / BLOBS, root, None)
        return refuse(f"installing failed ({error}); previous generation restored")
    final = store.generation_folder(generation)
    shutil.rmtree(final, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(incoming, final)
    state.previous, state.generation = state.generation, generation
    state.digest, state.source_node = manifest.digest, manifest.source_node
    state.confirmed_at = iso(now())
    store.save(state)
    store.keep_only(state.generation, state.previous)
    bus.emit(
        70004,
        "ha",
        generation=generation,
        source_node=manifest.source_node,
        files=len(manifest.entries),
        digest=manifest.digest,
    )
    return Outcome(ACCEPTED, f"generation {generation} accepted ({len(manifest.entries)} files)")


def confirm(store: StateStore, generation: int, digest: str) -> Outcome:
    """The active's configuration is unchanged: refresh the copy's age if it still matches."""
    state = store.load()
    if state.role == ACTIVE:
        return Outcome(REFUSED, "this node is active; demote it first")
    manifest = _load_current(store, state.generation)
    if (
        manifest is None
        or state.generation != generation
        or state.digest != digest
        or verify(manifest, store.pair.config_folder)
    ):
        return Outcome(NEEDS_FULL_SYNC, "copy differs: a new generation is needed")
    state.confirmed_at = iso(now())
    store.save(state)
    return Outcome(CONFIRMED, f"generation {generation} confirmed")


def _load_current(store: StateStore, generation: int) -> Manifest | None:
    if not generation:
        return None
    try:
        return Manifest.load(store.generation_folder(generation) / MANIFEST)
    except ManifestError:
        return None
