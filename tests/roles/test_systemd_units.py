"""The systemd units of the roles, rendered from the roles' defaults: `systemd-analyze verify`
accepts them, and `systemd-analyze security --offline=yes` rates their sandbox at or below
the exposure the templates promise (appliance.service 2.0, appliance-ha-sync.service 3.0)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from ansible.module_utils.parsing.convert_bool import boolean

from tests.roles.conftest import REPO

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")

APPLIANCE_MAX_EXPOSURE = 2.0
HA_SYNC_MAX_EXPOSURE = 3.0
EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d+)")

# appliance_services of the two renderings: only unprivileged ports (a disabled service on a
# privileged port does not count), and a port below 1024.
UNPRIVILEGED = {
    "sftp": {"type": "ssh", "port": 2022},
    "ftps-implicit": {"type": "ftps-implicit", "port": 990, "enabled": "no"},
}
PRIVILEGED = {"ftp": {"type": "ftp", "port": 21}, "sftp": {"type": "ssh", "port": 2022}}

# What Ansible provides and the defaults refer to.
MAGIC_VARIABLES = {
    "ansible_managed": "Ansible managed",
    "ansible_facts": {"os_family": "Debian"},
    "inventory_hostname": "node-a",
    "playbook_dir": str(REPO / "playbooks"),
    "role_path": str(REPO / "roles" / "appliance"),
}


def _environment() -> jinja2.Environment:
    # As Ansible's template module: trim_blocks; unit files are not HTML (no autoescape).
    environment = jinja2.Environment(  # noqa: S701
        trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["bool"] = lambda value: boolean(value, strict=False)
    return environment


def _resolve(variables: dict) -> dict:
    """Render the `{{ ... }}` in the variables against each other until nothing changes."""
    environment = _environment()

    def render(value, context: dict):
        if isinstance(value, str) and "{" in value:
            return environment.from_string(value).render(context)
        if isinstance(value, list):
            return [render(item, context) for item in value]
        if isinstance(value, dict):
            return {key: render(item, context) for key, item in value.items()}
        return value

    for _ in range(10):
        resolved = {name: render(value, variables) for name, value in variables.items()}
        if resolved == variables:
            return resolved
        variables = resolved
    raise AssertionError("the role defaults do not settle: a variable refers to itself")


def _defaults(role: str) -> dict:
    """The role's defaults, but those that pick the wheels' platform: they ask the control
    node and the host's facts (Ansible lookups), and no unit names them."""
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
    return {
        name: value for name, value in defaults.items() if not name.startswith("appliance_wheel_")
    }


def render_units(folder: Path, services: dict) -> dict[str, Path]:
    """The three units in FOLDER, from both roles' defaults and these appliance_services.

    The virtualenv is a folder of the test holding an executable `bin/appliance`, so that
    `systemd-analyze verify` finds the command of ExecStart=.
    """
    venv = folder / "venv"
    (venv / "bin").mkdir(parents=True)
    command = venv / "bin" / "appliance"
    command.write_text("#!/bin/sh\nexit 0\n")
    command.chmod(0o755)
    variables = _resolve(
        {
            **MAGIC_VARIABLES,
            **_defaults("appliance_service"),
            **_defaults("appliance"),
            **_defaults("appliance_ha"),
            "appliance_venv_dir": str(venv),
            "appliance_services": services,
        }
    )
    templates = {
        "appliance.service": REPO / "roles/appliance/templates/appliance.service.j2",
        "appliance-ha-sync.service": REPO
        / "roles/appliance_ha/templates/appliance-ha-sync.service.j2",
        "appliance-ha-sync.timer": REPO / "roles/appliance_ha/templates/appliance-ha-sync.timer.j2",
    }
    units = {}
    for name, template in templates.items():
        text = _environment().from_string(template.read_text()).render(variables)
        assert "{{" not in text and "{%" not in text, text
        units[name] = folder / name
        units[name].write_text(text)
    return units


def systemd_analyze(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SYSTEMD_ANALYZE, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"},
    )


def exposure(unit: Path) -> tuple[float, str]:
    """The overall exposure level of the unit file, and the report's findings."""
    result = systemd_analyze("security", "--offline=yes", "--no-pager", str(unit))
    found = EXPOSURE.search(result.stdout)
    assert found, result.stdout + result.stderr
    assert found.group(1) == unit.name
    findings = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    return float(found.group(2)), "\n".join(findings)


@pytest.fixture(params=[UNPRIVILEGED, PRIVILEGED], ids=["unprivileged-ports", "port-21"])
def units(request, tmp_path: Path) -> dict[str, Path]:
    return render_units(tmp_path, request.param)


def test_units_pass_systemd_analyze_verify(units):
    # The timer with the service it starts (verify looks for it next to the timer).
    for group in (
        [units["appliance.service"]],
        [units["appliance-ha-sync.service"], units["appliance-ha-sync.timer"]],
    ):
        result = systemd_analyze("verify", "--man=no", *map(str, group))
        # verify exits 0 on unknown keys and lines without "=": any word about our files fails.
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert not [line for line in output.splitlines() if "appliance" in line], output


def test_appliance_service_exposure(units):
    level, findings = exposure(units["appliance.service"])
    assert level <= APPLIANCE_MAX_EXPOSURE, f"exposure {level}:\n{findings}"


def test_ha_sync_service_exposure(tmp_path):
    level, findings = exposure(render_units(tmp_path, {})["appliance-ha-sync.service"])
    assert level <= HA_SYNC_MAX_EXPOSURE, f"exposure {level}:\n{findings}"


def test_ha_sync_runs_as_the_unprivileged_sync_account(tmp_path):
    unit = render_units(tmp_path, {})["appliance-ha-sync.service"].read_text().splitlines()
    assert "User=appliance-sync" in unit and "Group=appliance" in unit
    assert "CapabilityBoundingSet=" in unit and "AmbientCapabilities=" in unit  # none at all
    assert not [line for line in unit if line.startswith("SystemCallFilter=@chown")]


def test_only_enabled_ports_below_1024_get_cap_net_bind_service(tmp_path):
    unprivileged = render_units(tmp_path / "a", UNPRIVILEGED)["appliance.service"].read_text()
    privileged = render_units(tmp_path / "b", PRIVILEGED)["appliance.service"].read_text()
    assert "\nCapabilityBoundingSet=\n" in unprivileged
    assert "AmbientCapabilities" not in unprivileged
    assert "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n" in privileged
    assert "\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in privileged
