"""A node's HA state: its role, the generation it holds, when the copy was last confirmed.

Kept in `<state_folder>/state.json` (per node, never synced), written atomically. Each
generation's manifest (and on the passive its files) lives in `generations/<N>/`; the
current and the previous generation are kept, older ones removed.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from appliance.ha.pair import Pair

ACTIVE = "active"
PASSIVE = "passive"
STATE_FILE = "state.json"
GENERATIONS = "generations"
INCOMING = "incoming"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class NodeState:
    role: str
    generation: int = 0
    """The latest generation this node produced (active) or accepted (passive); 0: none."""
    previous: int = 0
    digest: str = ""
    """Digest of the generation's manifest."""
    source_node: str = ""
    """The node that produced the generation."""
    confirmed_at: str = ""
    """When the active last confirmed that the passive's copy is its current configuration."""
    role_since: str = ""

    def age_seconds(self) -> float | None:
        """Seconds since the copy was last confirmed; None when never synced."""
        if not self.confirmed_at:
            return None
        return (now() - parse_iso(self.confirmed_at)).total_seconds()


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file under a temporary name in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, path)


class StateStore:
    """Reads and writes one node's state folder."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.folder = pair.state_folder

    def load(self) -> NodeState:
        try:
            data = json.loads((self.folder / STATE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            role = ACTIVE if self.pair.this.id == self.pair.primary else PASSIVE
            return NodeState(role=role)
        return NodeState(**data)

    def save(self, state: NodeState) -> None:
        text = json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"
        write_atomically(self.folder / STATE_FILE, text.encode(), 0o644)  # `serve` reads it

    def set_role(self, state: NodeState, role: str) -> None:
        state.role = role
        state.role_since = iso(now())
        self.save(state)

    def generation_folder(self, generation: int) -> Path:
        return self.folder / GENERATIONS / str(generation)

    def incoming_folder(self, generation: int) -> Path:
        return self.folder / INCOMING / str(generation)

    def keep_only(self, *generations: int) -> None:
        """Remove every generation folder but these (the current and the previous)."""
        folder = self.folder / GENERATIONS
        if not folder.is_dir():
            return
        keep = {str(generation) for generation in generations}
        for child in folder.iterdir():
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)
