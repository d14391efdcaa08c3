"""Molecule scenarios run as part of the test suite: `default` (a systemd host in a network
namespace, over SSH), `container` (podman, the appliance as foreground process) and `ha`
(two hosts on one bridge), each with Molecule's full sequence; `windows` is checked with
`ansible-playbook --syntax-check` and ansible-lint, since no Windows machine runs here.

Skip them with APPLIANCE_SKIP_MOLECULE=1. They need root (namespaces, nspawn, podman); the
Debian 12 root filesystem is built once into /var/cache/appliance-lab (APPLIANCE_LAB_CACHE)
and reused. Logs: tests/artifacts/molecule-<scenario>.log. The last test checks that the
host's network state (namespaces, nftables/iptables rules, ip_forward) is as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "tests" / "artifacts"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("APPLIANCE_SKIP_MOLECULE") == "1",
        reason="APPLIANCE_SKIP_MOLECULE=1: Molecule scenarios skipped",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="the Molecule lab needs root"),
]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _run(command: list[str], log_name: str, timeout: int) -> subprocess.CompletedProcess:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / log_name
    with log.open("w") as stream:
        result = subprocess.run(
            command,
            cwd=REPO,
            env=_environment(),
            stdout=stream,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    result.log = log.read_text(errors="replace")  # type: ignore[attr-defined]
    return result


def _host_network_state() -> dict[str, str]:
    def out(*command: str) -> str:
        if not shutil.which(command[0]):
            return f"({command[0]} not installed)"
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    return {
        "network namespaces": "\n".join(
            line for line in out("ip", "netns", "list").splitlines() if "mol-" in line
        ),
        "nft ruleset": out("nft", "list", "ruleset"),
        "iptables -S": out("iptables", "-S"),
        "iptables -t nat -S": out("iptables", "-t", "nat", "-S"),
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
        "lab links": "\n".join(
            line.split(":")[1].strip()
            for line in out("ip", "-o", "link").splitlines()
            if "ve-mol-" in line or "mol-habr" in line
        ),
    }


@pytest.fixture(scope="module")
def network_before() -> dict[str, str]:
    return _host_network_state()


def _require_roles() -> None:
    missing = [p for p in ("playbooks/site.yml", "roles/appliance") if not (REPO / p).exists()]
    if missing:
        pytest.skip(f"the Ansible roles are not in this checkout yet: {', '.join(missing)}")


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("scenario", ["default", "debian13", "container", "ha"])
def test_molecule_scenario(scenario: str, network_before) -> None:
    """create, converge, idempotence (zero changes), verify, destroy: all green."""
    _require_roles()
    result = _run([str(BIN / "molecule"), "test", "-s", scenario], f"molecule-{scenario}.log", 1400)
    assert result.returncode == 0, (
        f"molecule test -s {scenario} failed; log: tests/artifacts/molecule-{scenario}.log\n"
        + result.log[-6000:]
    )
    # The verify tests really ran: pytest's summary line says passed, and nothing skipped.
    summaries = re.findall(r"=+ (\d+ passed[^=]*) in [\d.]+s", result.log)
    assert summaries, f"no testinfra summary in tests/artifacts/molecule-{scenario}.log"
    assert not any("skipped" in line for line in summaries), (
        f"verify skipped checks: {summaries}; see tests/artifacts/molecule-{scenario}.log"
    )


@pytest.mark.timeout(300)
def test_windows_scenario_syntax_and_lint() -> None:
    """The Windows scenario cannot run here: its playbooks must at least parse and lint clean."""
    _require_roles()
    syntax = _run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            "molecule/windows/inventory/hosts.yml",
            "molecule/shared/converge.yml",
            "molecule/windows/verify.yml",
        ],
        "molecule-windows-syntax.log",
        240,
    )
    assert syntax.returncode == 0, syntax.log[-4000:]
    lint = _run(
        [
            str(BIN / "ansible-lint"),
            "--offline",
            "molecule/windows/molecule.yml",
            "molecule/windows/verify.yml",
            "molecule/shared/converge.yml",
        ],
        "molecule-windows-lint.log",
        240,
    )
    assert lint.returncode == 0, lint.log[-4000:]


def test_host_network_state_is_left_as_found(network_before) -> None:
    """After the scenarios: no lab namespace or link left; firewall and ip_forward as before."""
    after = _host_network_state()
    changed = {
        key: (network_before[key], after[key]) for key in after if after[key] != network_before[key]
    }
    assert not changed, "the Molecule lab changed the host's network state: " + repr(changed)
    assert not after["network namespaces"], "lab namespaces left: " + after["network namespaces"]
    assert not after["lab links"], "lab links left: " + after["lab links"]
