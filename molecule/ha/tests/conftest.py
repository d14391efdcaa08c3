"""The ha scenario's verify: the shared checks of every lab host first, the DR drill last
(it stops, promotes and fails back the pair, so it must not run before them)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: Path(str(item.path)).resolve().parent == HERE)
