#!/usr/bin/env python3
"""Build the wheelhouse a host installs the appliance from, offline (pip --no-index).

    build_wheelhouse.py [--platform TAG]... [--python-version X.Y] SOURCE DEST

SOURCE is the appliance's source tree, DEST the folder of wheels. The appliance's own wheel
is built with `pip wheel --no-deps` (SOURCE_DATE_EPOCH fixed, so its bytes depend on the
sources only); then its dependencies:

- no --platform and --python-version equal to (or omitted, meaning) the Python running this
  script: the control node's own platform, `pip wheel` as before (sdists are built here);
- otherwise `pip download --only-binary=:all: --platform ... --python-version ...
  --implementation cp`: a wheel of every dependency for the target. pip evaluates environment
  markers (sys_platform == "win32", python_version >= "3.12") for the Python that runs it, not
  for the target, so pip runs here with its marker environment set to the target's. A
  dependency published as an sdist only is built here into a wheel and accepted when that
  wheel is pure Python (py3-none-any); a platform-specific one is an error naming it.

The new wheelhouse is checked before it replaces DEST: `pip install --dry-run --no-index
--find-links DEST` for the target, without pip's configuration, must succeed from wheels only.
DEST/wheelhouse.json records the source wheel's sha256, the target and every wheel's sha256:
when they already match, nothing is done and the last line says "unchanged" (else "built").

Runs on the control node with the Python that runs Ansible: standard library and pip only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

STAMP = "wheelhouse.json"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip file can hold
# Rounds of "build the pure-Python wheel of an sdist-only dependency, then resolve again".
MAX_SDIST_ROUNDS = 20

# Runs pip with the marker environment given as first argument (JSON) merged into its own.
PIP_WITH_MARKERS = r"""
import json, sys
target = json.loads(sys.argv.pop(1))
from pip._vendor.packaging import markers
environment = markers.default_environment()
environment.update(target)
markers.default_environment = lambda: dict(environment)
probe = " and ".join(f'{name} == "{value}"' for name, value in sorted(target.items()))
if probe and not markers.Marker(probe).evaluate():
    sys.exit("this pip does not let the target's marker environment be set: " + probe)
from pip._internal.cli.main import main
sys.argv[0] = "pip"
sys.exit(main())
"""


class WheelhouseError(Exception):
    """The wheelhouse cannot be built for the target; the message says why."""


# -- the target ------------------------------------------------------------------------------


def python_version_tuple(version: str) -> tuple[int, ...]:
    if not re.fullmatch(r"3(\.\d+){1,2}", version):
        raise WheelhouseError(f"--python-version {version!r}: expected 3.X or 3.X.Y")
    return tuple(int(part) for part in version.split("."))


def expand_platforms(platforms: list[str]) -> list[str]:
    """The tags a host of these platforms accepts, like its own pip would: manylinux_2_N_ARCH
    (glibc 2.N) also takes every older glibc and the manylinux2014/2010/1 aliases,
    musllinux_1_N_ARCH every older musl. pip expands macosx and manylinux2014 itself."""
    expanded: list[str] = []
    for tag in platforms:
        many = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", tag)
        musl = re.fullmatch(r"musllinux_1_(\d+)_(\w+)", tag)
        if many:
            glibc, arch = int(many[1]), many[2]
            oldest = 5 if arch in ("x86_64", "i686") else 17
            expanded += [f"manylinux_2_{minor}_{arch}" for minor in range(glibc, oldest - 1, -1)]
            aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            for minor, alias in aliases.items():
                if glibc >= minor and (minor == 17 or arch in ("x86_64", "i686")):
                    expanded.append(f"{alias}_{arch}")
        elif musl:
            expanded += [f"musllinux_1_{minor}_{musl[2]}" for minor in range(int(musl[1]), 0, -1)]
        else:
            expanded.append(tag)
    return list(dict.fromkeys(expanded))


# Platform tag (its machine part in the one group) -> os_name, sys_platform, platform_system.
POSIX_PLATFORMS = [
    (r"(?:manylinux_\d+_\d+|musllinux_\d+_\d+|manylinux\d+|linux)_(\w+)", "linux", "Linux"),
    (r"macosx_\d+_\d+_(\w+)", "darwin", "Darwin"),
]


def platform_markers(tag: str) -> dict[str, str]:
    """The marker variables (PEP 508) of a host whose wheels carry this platform tag."""
    windows = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
    if tag in windows:
        return {
            "os_name": "nt",
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": windows[tag],
        }
    for pattern, sys_platform, system in POSIX_PLATFORMS:
        match = re.fullmatch(pattern, tag)
        if match:
            return {
                "os_name": "posix",
                "sys_platform": sys_platform,
                "platform_system": system,
                "platform_machine": match[1],
            }
    raise WheelhouseError(f"--platform {tag}: cannot tell which operating system it is")


def marker_environment(platforms: list[str], python_version: str | None) -> dict[str, str]:
    """What differs between this Python's marker environment and the target's."""
    environment: dict[str, str] = {}
    if platforms:
        kinds = {json.dumps(platform_markers(tag), sort_keys=True) for tag in platforms}
        if len(kinds) > 1:
            raise WheelhouseError(
                f"--platform {' '.join(platforms)}: one wheelhouse serves one operating system "
                "and architecture"
            )
        environment.update(json.loads(kinds.pop()))
        # Kernel release and version are unknown: no dependency of the appliance tests them.
        environment.update(platform_release="", platform_version="")
    if python_version:
        numbers = python_version_tuple(python_version)
        full = ".".join(str(part) for part in (numbers + (0, 0))[:3])
        environment.update(
            python_version=f"{numbers[0]}.{numbers[1]}",
            python_full_version=full,
            implementation_name="cpython",
            implementation_version=full,
            platform_python_implementation="CPython",
        )
    return environment


def is_native(platforms: list[str], python_version: str | None) -> bool:
    """The target is the Python running this script: pip wheel may build anything here."""
    if platforms or sys.implementation.name != "cpython":
        return False
    return python_version is None or (
        python_version_tuple(python_version)[:2] == tuple(sys.version_info[:2])
    )


# -- pip ---------------------------------------------------------------------------------------


def pip_environment(*, isolated: bool = False) -> dict[str, str]:
    environment = dict(os.environ)
    environment.setdefault("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if isolated:  # only the command line counts: no pip.conf, no PIP_* variables
        environment = {k: v for k, v in environment.items() if not k.startswith("PIP_")}
        environment["PIP_CONFIG_FILE"] = os.devnull
    return environment


def run_pip(
    arguments: list[str], *, markers: dict[str, str] | None = None, isolated: bool = False
) -> subprocess.CompletedProcess:
    """pip of this Python, its markers evaluated in `markers` (the target's) when given."""
    if markers:
        command = [sys.executable, "-c", PIP_WITH_MARKERS, json.dumps(markers), *arguments]
    else:
        command = [sys.executable, "-m", "pip", *arguments]
    return subprocess.run(
        command,
        env=pip_environment(isolated=isolated),
        capture_output=True,
        text=True,
        check=False,
    )


def pip_failed(what: str, result: subprocess.CompletedProcess) -> WheelhouseError:
    output = (result.stdout + result.stderr).strip()
    return WheelhouseError(f"{what} failed (pip exit {result.returncode}):\n{output[-6000:]}")


def target_arguments(platforms: list[str], python_version: str | None) -> list[str]:
    arguments = ["--only-binary=:all:", "--implementation", "cp"]
    for tag in platforms:
        arguments += ["--platform", tag]
    if python_version:
        arguments += ["--python-version", python_version]
    return arguments


# -- building ------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_source_wheel(source: Path, folder: Path) -> Path:
    result = run_pip(["wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(source)])
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise pip_failed(f"building the wheel of {source}", result)
    return wheels[0]


def build_pure_wheel(requirement: str, folder: Path, target: str) -> Path:
    """The wheel of an sdist-only dependency, built here: usable on the target when pure."""
    result = run_pip(["wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), requirement])
    built = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or len(built) != 1:
        raise pip_failed(f"{requirement} has no wheel for {target}; building its sdist", result)
    if not built[0].name.endswith("-none-any.whl"):
        raise WheelhouseError(
            f"{requirement} has no wheel for {target} on the package index, and the wheel built "
            f"from its sdist here is platform-specific ({built[0].name}): the host cannot "
            "install it"
        )
    return built[0]


def collect_dependencies(
    source_wheel: Path, folder: Path, platforms: list[str], python_version: str | None
) -> None:
    if is_native(platforms, python_version):
        result = run_pip(["wheel", "--quiet", "--wheel-dir", str(folder), str(source_wheel)])
        if result.returncode != 0:
            raise pip_failed("pip wheel", result)
        return
    markers = marker_environment(platforms, python_version)
    target = f"Python {python_version or sys.version.split()[0]} on " + (
        " ".join(platforms) or sysconfig.get_platform()
    )
    arguments = ["download", *target_arguments(platforms, python_version)]
    arguments += ["--find-links", str(folder), "--dest", str(folder), str(source_wheel)]
    built_here: list[str] = []
    for _ in range(MAX_SDIST_ROUNDS):
        result = run_pip(arguments, markers=markers)
        if result.returncode == 0:
            return
        missing = re.search(r"No matching distribution found for ([^\s;]+)", result.stderr)
        if not missing or missing[1] in built_here:
            raise pip_failed(f"pip download for {target}", result)
        built_here.append(missing[1])
        sdist_folder = folder.parent / f"sdist-{len(built_here)}"
        wheel = build_pure_wheel(missing[1], sdist_folder, target)
        shutil.copy2(wheel, folder / wheel.name)
    raise WheelhouseError(f"more than {MAX_SDIST_ROUNDS} dependencies without a wheel")


def check_offline(
    folder: Path, requirement: str, platforms: list[str], python_version: str | None
) -> dict:
    """pip's report of installing `requirement` on the target from `folder` alone."""
    native = is_native(platforms, python_version)
    markers = {} if native else marker_environment(platforms, python_version)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        arguments = ["install", "--dry-run", "--ignore-installed", "--quiet", "--no-index"]
        arguments += ["--find-links", str(folder), "--report", str(report)]
        arguments += (
            ["--only-binary=:all:"] if native else target_arguments(platforms, python_version)
        )
        result = run_pip([*arguments, requirement], markers=markers, isolated=True)
        if result.returncode != 0:
            raise pip_failed(f"installing {requirement} offline from {folder}", result)
        document = json.loads(report.read_text())
    urls = [item["download_info"]["url"] for item in document["install"]]
    sdists = [url for url in urls if not url.endswith(".whl")]
    if sdists:
        raise WheelhouseError(f"the offline install would build sdists: {sdists}")
    seen = {name: document["environment"].get(name) for name in markers}
    if seen != markers:
        raise WheelhouseError(f"pip resolved for {seen}, not for the target {markers}")
    return document


def wanted_stamp(source_wheel: Path, platforms: list[str], python_version: str | None) -> dict:
    stamp = {
        "source_wheel": source_wheel.name,
        "source_sha256": sha256(source_wheel),
        "platforms": platforms,
        "python_version": python_version,
        "implementation": "cp",
    }
    if is_native(platforms, python_version):
        stamp["built_on"] = f"cp{sys.version_info[0]}{sys.version_info[1]}-" + (
            sysconfig.get_platform()
        )
    return stamp


def up_to_date(dest: Path, wanted: dict) -> bool:
    try:
        stamp = json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        return False
    files = stamp.pop("wheels", None)
    if stamp != wanted or not isinstance(files, dict):
        return False
    present = {path.name for path in dest.glob("*.whl")}
    return present == set(files) and all(
        sha256(dest / name) == digest for name, digest in files.items()
    )


@contextlib.contextmanager
def locked(path: Path):
    """One holder of `path` at a time: parallel plays share the control node, its source
    tree (pip builds the wheel in place) and its wheelhouses."""
    try:
        import fcntl
    except ImportError:  # not a POSIX control node: no lock
        yield
        return
    with path.open("w") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def build(source: Path, dest: Path, platforms: list[str], python_version: str | None) -> bool:
    """Make `dest` the wheelhouse of `source` for the target; False when it already was."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    platforms = expand_platforms(platforms)
    marker_environment(platforms, python_version)  # reject an unknown target early
    source_key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    source_lock = Path(tempfile.gettempdir()) / f"build_wheelhouse-{source_key}.lock"
    with locked(dest.parent / f".{dest.name}.lock"):
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        try:
            with locked(source_lock):
                source_wheel = build_source_wheel(source, work / "source")
            wanted = wanted_stamp(source_wheel, platforms, python_version)
            if up_to_date(dest, wanted):
                return False
            folder = work / "wheelhouse"
            folder.mkdir()
            collect_dependencies(source_wheel, folder, platforms, python_version)
            name, version = source_wheel.name.split("-")[:2]
            check_offline(folder, f"{name}=={version}", platforms, python_version)
            wheels = {path.name: sha256(path) for path in sorted(folder.glob("*.whl"))}
            stamp = json.dumps({**wanted, "wheels": wheels}, indent=2, sort_keys=True)
            (folder / STAMP).write_text(stamp + "\n")
            if dest.exists():
                dest.rename(work / "previous")
            folder.rename(dest)
            return True
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="TAG",
        help="pip platform tag of the target (win_amd64, manylinux_2_28_aarch64...); "
        "none: this machine's platform",
    )
    parser.add_argument(
        "--python-version", metavar="X.Y", help="the target's Python (default: this one's)"
    )
    parser.add_argument("source", type=Path, help="the appliance's source tree")
    parser.add_argument("dest", type=Path, help="the wheelhouse folder")
    options = parser.parse_args(argv)
    try:
        changed = build(options.source, options.dest, options.platform, options.python_version)
    except WheelhouseError as error:
        print(f"build_wheelhouse: {error}", file=sys.stderr)
        return 1
    print(f"{'built' if changed else 'unchanged'} {options.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
