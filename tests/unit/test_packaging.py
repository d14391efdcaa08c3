"""pyproject.toml lists every package of the tree, and ships schemas/ inside the package."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "appliance").rglob("__init__.py")
    } | {"appliance.schemas"}
    assert on_disk == listed, f"add to / remove from pyproject packages: {on_disk ^ listed}"


def test_schemas_ship_in_the_package():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["appliance.schemas"] == "schemas"
    assert list((REPO / "schemas").glob("*.yaml"))
