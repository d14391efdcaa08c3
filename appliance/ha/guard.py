"""The passive node never runs its services: `appliance serve` asks this module first."""

from __future__ import annotations

from pathlib import Path

from appliance.config import ConfigError
from appliance.ha.pair import load_pair, pair_file
from appliance.ha.state import PASSIVE, StateStore


def passive_refusal(config_path: Path) -> str | None:
    """Why this node must not serve (it is the passive of a pair), or None."""
    if not pair_file(config_path).is_file():
        return None
    try:
        pair = load_pair(config_path, check_files=False)
    except ConfigError as error:
        return f"ha.ini is invalid, not serving: {error.problems[0]}"
    if StateStore(pair).load().role == PASSIVE:
        return (
            f"node {pair.this.id} is the passive node of its pair: not serving "
            "(`appliance ha promote` makes it active)"
        )
    return None
