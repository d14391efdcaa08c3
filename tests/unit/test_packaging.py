"""The wheel holds every file of the package and of schemas/; the same sources, the same bytes.

Two wheels are built with pip from two copies of the sources (the files the build reads), the
way roles/appliance/tasks/wheel.yml builds one: SOURCE_DATE_EPOCH set, so an unchanged checkout
gives an unchanged wheel.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

BUILD_INPUTS = ["pyproject.toml", "setup.py", "README.md", "LICENSE", "appliance", "schemas"]
DIST_INFO = "appliance-0.1.0.dist-info"


def _setuptools_builds_offline() -> bool:
    """pyproject.toml needs setuptools>=77 (PEP 639 license); with an older one, build isolated."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major >= 77


def _build_wheel(work: Path) -> Path:
    source = work / "source"
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    out = work / "wheel"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
    if _setuptools_builds_offline():
        command.append("--no-build-isolation")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run = subprocess.run(
        [*command, str(source)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (wheel,) = out.glob("appliance-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return (
        _build_wheel(tmp_path_factory.mktemp("wheel-a")),
        _build_wheel(tmp_path_factory.mktemp("wheel-b")),
    )


def _shipped_files() -> set[str]:
    """Every file of appliance/ (modules and data), and schemas/ as appliance.schemas."""
    package = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "appliance").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    schemas = {
        "appliance/schemas/" + path.relative_to(REPO / "schemas").as_posix()
        for path in (REPO / "schemas").rglob("*.yaml")
    }
    return package | schemas


def test_the_wheel_holds_every_module_schema_template_and_static_file(wheels):
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    in_package = {name for name in names if not name.startswith(DIST_INFO + "/")}
    expected = _shipped_files()
    assert in_package == expected, (
        f"missing from the wheel: {sorted(expected - in_package)}; "
        f"not expected in it: {sorted(in_package - expected)}"
    )
    # The parts a user notices first when missing, named so that a broken glob cannot hide them.
    assert "appliance/schemas/server.yaml" in in_package
    assert any(name.startswith("appliance/schemas/roles/") for name in in_package)
    assert "appliance/runtime/services/http/templates/login.html" in in_package
    assert "appliance/runtime/services/http/static/files.js" in in_package


def test_the_wheel_carries_the_license(wheels):
    with zipfile.ZipFile(wheels[0]) as wheel:
        metadata = wheel.read(f"{DIST_INFO}/METADATA").decode()
        license_text = wheel.read(f"{DIST_INFO}/licenses/LICENSE")
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert license_text == (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text


def test_the_same_sources_give_the_same_wheel(wheels):
    first, second = (wheel.read_bytes() for wheel in wheels)
    assert first == second, "two SOURCE_DATE_EPOCH builds differ: more than the sources counts"
