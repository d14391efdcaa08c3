"""Shared helpers of the role tests: run Ansible tools from the test virtualenv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A tool of the virtualenv that runs pytest (ansible-playbook, ansible-lint, yamllint)."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing; expected it from pyproject's test extra (make test)")
    return str(path)


def run(argv: list[str], *, timeout: int = 300, env: dict | None = None, **kwargs):
    environment = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
        **(env or {}),
    }
    return subprocess.run(
        argv,
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def need_root_netns() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("needs iproute2 and nftables (scripts/apt-packages.txt)")


def local_target(prefix: Path, wheelhouse: Path) -> dict:
    """Role variables that converge this machine itself into PREFIX (local connection, as
    root): every folder and file under PREFIX, no system account, package, service or
    firewall change, the Python of the test run for the virtualenv. Makes PREFIX/usr/local/bin,
    which every Linux host has, for the link to the `appliance` command."""
    (prefix / "usr" / "local" / "bin").mkdir(parents=True, exist_ok=True)
    return {
        "appliance_install_dir": f"{prefix}/opt/appliance",
        "appliance_config_dir": f"{prefix}/etc/appliance",
        "appliance_data_dir": f"{prefix}/var/lib/appliance",
        "appliance_log_dir": f"{prefix}/var/log/appliance",
        "appliance_files_dir": f"{prefix}/srv/appliance",
        "appliance_command_link": f"{prefix}/usr/local/bin/appliance",
        "appliance_wheelhouse": str(wheelhouse),
        "appliance_python": getattr(sys, "_base_executable", sys.executable),
        "appliance_user": "root",
        "appliance_group": "root",
        "appliance_manage_user": False,
        "appliance_manage_packages": False,
        "appliance_service_manager": "none",
        "appliance_pki_manage_packages": False,
        "dmz_firewall_apply": False,
        "dmz_firewall_manage_packages": False,
        "dmz_firewall_load_at_boot": False,
        "dmz_firewall_ruleset_path": f"{prefix}/etc/nftables.d/appliance-dmz.nft",
        "dmz_firewall_check_command": "unshare -rn nft -c -f %s",
    }
