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
