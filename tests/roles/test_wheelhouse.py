"""The wheelhouse the appliance role builds on the control node for a Windows host
(roles/appliance/files/build_wheelhouse.py, the script tasks/wheel.yml runs) installs offline
on that host: every dependency of the appliance, the whole transitive set with environment
markers evaluated for Windows and the host's Python, is a wheel for win_amd64.

Builds from PyPI: when the package index is unreachable the test fails (it does not skip),
since a pass would prove nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from tests.roles.conftest import REPO

SCRIPT = REPO / "roles" / "appliance" / "files" / "build_wheelhouse.py"


def load_script():
    spec = importlib.util.spec_from_file_location("build_wheelhouse", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def windows_environment(python_version: str) -> dict[str, str]:
    """PEP 508 marker values of CPython on Windows Server 2022 (x64), written out here rather
    than taken from the script, so that the script's own marker handling is checked."""
    full = f"{python_version}.0"
    return {
        **default_environment(),
        "os_name": "nt",
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "platform_release": "2022Server",
        "platform_version": "10.0.20348",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": full,
        "python_version": python_version,
        "python_full_version": full,
    }


@pytest.fixture(scope="module")
def package_index():
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/pip/"
    request = urllib.request.Request(
        index, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read(1)
    except OSError as error:
        pytest.fail(
            f"the package index {index} is unreachable ({error}): this test builds the "
            "Windows wheelhouse from it and cannot pass without it"
        )
    return index


def read_wheels(wheelhouse: Path) -> dict[str, tuple[Path, Version, object]]:
    """Canonical name -> (wheel, version, METADATA headers) of every wheel in the folder."""
    wheels = {}
    for path in sorted(wheelhouse.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = HeaderParser().parsestr(archive.read(member).decode("utf-8"))
        assert name not in wheels, f"two wheels of {name}: {wheels[name][0].name}, {path.name}"
        wheels[name] = (path, version, metadata)
    return wheels


def dependency_closure(wheels: dict, root: str, environment: dict[str, str]) -> set[str]:
    """Every distribution `root` needs on the target, each checked to be in `wheels` at a
    version its dependents accept and to accept the target's Python (Requires-Python)."""
    needed: set[str] = set()
    pending = [(canonicalize_name(root), "")]
    done: set[tuple[str, str]] = set()
    while pending:
        name, extra = pending.pop()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        needed.add(name)
        _, version, metadata = wheels[name]
        requires_python = SpecifierSet(metadata.get("Requires-Python", ""))
        assert requires_python.contains(environment["python_full_version"]), (
            f"{name} {version} requires Python {requires_python}"
        )
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(
                {**environment, "extra": extra}
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in wheels, (
                f"{dependency} ({line}, needed by {name}) has no wheel in the wheelhouse"
            )
            found = wheels[dependency][1]
            assert requirement.specifier.contains(found, prereleases=True), (
                f"{name} needs {line}; the wheelhouse has {dependency} {found}"
            )
            pending.append((dependency, ""))
            pending += [(dependency, canonicalize_name(e)) for e in requirement.extras]
    return needed


def test_platform_tags_and_markers_of_a_target():
    script = load_script()
    expanded = script.expand_platforms(["manylinux_2_28_aarch64", "win_amd64"])
    assert expanded[0] == "manylinux_2_28_aarch64" and "manylinux_2_17_aarch64" in expanded
    assert "manylinux2014_aarch64" in expanded and "manylinux1_aarch64" not in expanded
    assert expanded[-1] == "win_amd64"
    x86 = script.expand_platforms(["manylinux_2_17_x86_64"])
    assert {"manylinux_2_5_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(x86)
    windows = script.marker_environment(["win_amd64"], "3.12")
    assert windows["sys_platform"] == "win32" and windows["platform_machine"] == "AMD64"
    assert windows["python_full_version"] == "3.12.0"
    assert script.marker_environment([], None) == {}
    with pytest.raises(script.WheelhouseError, match="one operating system"):
        script.marker_environment(["win_amd64", "manylinux_2_28_x86_64"], "3.11")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert script.is_native([], None) and script.is_native([], version)
    assert not script.is_native(["win_amd64"], version) and not script.is_native([], "3.99")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("python_version", ["3.11", "3.12"])
def test_windows_wheelhouse_installs_offline(tmp_path, package_index, python_version):
    script = load_script()
    cp = "cp" + python_version.replace(".", "")
    wheelhouse = tmp_path / f"{cp}-win_amd64"
    command = [sys.executable, str(SCRIPT), "--platform", "win_amd64"]
    command += ["--python-version", python_version, str(REPO), str(wheelhouse)]
    started = time.monotonic()
    build = subprocess.run(command, capture_output=True, text=True, timeout=540, check=False)
    assert build.returncode == 0, build.stdout + build.stderr[-8000:]
    assert build.stdout.splitlines()[-1] == f"built {wheelhouse}"
    print(f"{cp}-win_amd64 built in {time.monotonic() - started:.1f} s")

    # Every wheel is for Windows (or any platform) and this Python: none for Linux or macOS.
    wheels = read_wheels(wheelhouse)
    foreign = [p.name for p, _, _ in wheels.values() if re.search(r"linux|macosx", p.name)]
    assert not foreign, f"wheels for another platform: {foreign}"
    minor = (3, int(python_version.split(".")[1]))
    supported = set(cpython_tags(minor, platforms=["win_amd64"]))
    supported |= set(compatible_tags(minor, cp, platforms=["win_amd64"]))
    unusable = [
        p.name for p, _, _ in wheels.values() if not parse_wheel_filename(p.name)[3] & supported
    ]
    assert not unusable, f"wheels a {cp} win_amd64 host cannot install: {unusable}"

    # pip installs the appliance on the target from the folder alone, wheels only. pip
    # evaluates markers for the Python that runs it, so it runs with the target's markers.
    report = tmp_path / "report.json"
    install = ["install", "--dry-run", "--ignore-installed", "--no-index", "--quiet"]
    install += ["--find-links", str(wheelhouse), "--only-binary=:all:", "--platform", "win_amd64"]
    install += ["--python-version", python_version, "--implementation", "cp"]
    install += ["--target", str(tmp_path / "target"), "--report", str(report), "appliance"]
    markers = script.marker_environment(["win_amd64"], python_version)
    dry_run = script.run_pip(install, markers=markers, isolated=True)
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr[-6000:]
    document = json.loads(report.read_text())
    assert document["environment"]["sys_platform"] == "win32"
    assert document["environment"]["python_version"] == python_version
    urls = [item["download_info"]["url"] for item in document["install"]]
    assert urls and all(url.endswith(".whl") for url in urls), urls
    installed = {canonicalize_name(item["metadata"]["name"]) for item in document["install"]}

    # The same closure computed here, from the wheels' metadata and independently of pip: it
    # is exactly what pip installs and exactly what the folder holds.
    needed = dependency_closure(wheels, "appliance", windows_environment(python_version))
    assert needed == installed
    assert needed == set(wheels), f"wheels nothing needs: {sorted(set(wheels) - needed)}"

    # A second build of unchanged sources changes nothing.
    stamp = (wheelhouse / "wheelhouse.json").read_bytes()
    mtimes = {path.name: path.stat().st_mtime_ns for path in wheelhouse.iterdir()}
    again = subprocess.run(command, capture_output=True, text=True, timeout=540, check=False)
    assert again.returncode == 0, again.stdout + again.stderr[-8000:]
    assert again.stdout.splitlines()[-1] == f"unchanged {wheelhouse}"
    assert (wheelhouse / "wheelhouse.json").read_bytes() == stamp
    assert {path.name: path.stat().st_mtime_ns for path in wheelhouse.iterdir()} == mtimes
    stamped = json.loads(stamp)
    assert stamped["platforms"] == ["win_amd64"] and stamped["python_version"] == python_version
