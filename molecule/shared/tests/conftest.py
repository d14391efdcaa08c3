"""What the shared verify tests know about a converged lab host, read from its inventory.

Every scenario (default, container, ha) runs these tests through Molecule's testinfra
verifier. Facts about the target come from the scenario's inventory (`lab_*`
variables, set in each scenario's molecule.yml) and from the appliance on the target itself:
its server.ini, and its audit trail (`appliance events`), which says which services failed
to start (event 20078) since the appliance last started. Every service type is built now:
no check skips; a service that did not start fails its checks with the appliance's reason.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pytest


@dataclass
class Service:
    id: str
    type: str
    address: str
    port: int
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class Appliance:
    """The converged appliance on one lab host, as seen from the controller."""

    host: object
    variables: dict
    config_file: str
    ini: configparser.ConfigParser
    failed_to_start: dict[str, str]
    ha_role: str | None = None  # "active" or "passive" in an HA pair (ha.ini), else None

    @property
    def serving(self) -> bool:
        """A passive HA node must not serve; every other appliance must."""
        return self.ha_role != "passive"

    @property
    def config_dir(self) -> PurePosixPath:
        return PurePosixPath(self.config_file).parent

    @property
    def address(self) -> str:
        """Where the controller reaches the appliance's listeners."""
        return self.variables.get("lab_address") or self.variables["ansible_host"]

    @property
    def target(self) -> str:
        return self.variables.get("lab_target", "systemd")

    def services(self) -> list[Service]:
        found = []
        for name in self.ini.sections():
            if not name.startswith("services/"):
                continue
            section = self.ini[name]
            if section.get("enabled", "yes").lower() in ("no", "false", "0", "off"):
                continue
            found.append(
                Service(
                    id=name.split("/", 1)[1],
                    type=section["type"],
                    address=section.get("address", "0.0.0.0"),
                    port=int(section["port"]),
                    options=dict(section),
                )
            )
        return found

    def service_of_type(self, *types: str) -> Service:
        for service in self.services():
            if service.type in types:
                return service
        pytest.fail(f"the lab inventory configures no service of type {'/'.join(types)}")

    def require_started(self, service: Service) -> None:
        """Fail at once, quoting the appliance's event 20078, when the service did not start."""
        if service.id in self.failed_to_start:
            pytest.fail(
                f"services/{service.id} ({service.type}) did not start; the appliance reports "
                f"event 20078: {self.failed_to_start[service.id]}"
            )

    def path(self, value: str) -> str:
        """A path option of server.ini, resolved like the runtime does (relative to the file)."""
        return value if value.startswith("/") else str(self.config_dir / value)

    def cli(self, *arguments: str) -> str:
        command = " ".join(shlex.quote(a) for a in (self.variables["lab_cli"], *arguments))
        return self.host.check_output(command)


def _failed_to_start(host, cli: str, config_file: str) -> dict[str, str]:
    """Services whose latest start attempt since the appliance's last start failed."""
    output = host.check_output(
        f"{shlex.quote(cli)} events -c {shlex.quote(config_file)} "
        "--id 20074 --id 20076 --id 20078 --json"
    )
    failed: dict[str, str] = {}
    for line in output.splitlines():
        event = json.loads(line)
        service = event["data"].get("service")
        if event["id"] == 20074:  # server started: only the latest start counts
            failed.clear()
        elif event["id"] == 20076:  # started (again, e.g. after a reload)
            failed.pop(service, None)
        else:
            failed[service] = str(event["data"].get("error", event["message"]))
    return failed


def _ha_role(host, cli: str, config_dir: PurePosixPath) -> str | None:
    """The node's role from `appliance ha status`, when ha.ini makes it one of a pair."""
    if not host.file(str(config_dir / "ha.ini")).exists:
        return None
    folder = shlex.quote(str(config_dir))
    output = host.check_output(f"{shlex.quote(cli)} ha status -c {folder} --json")
    return json.loads(output)["role"]


@pytest.fixture(scope="module")
def appliance(host) -> Appliance:
    variables = host.ansible.get_variables()
    config_file = variables["lab_config_file"]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(host.file(config_file).content_string, source=config_file)
    return Appliance(
        host=host,
        variables=variables,
        config_file=config_file,
        ini=ini,
        failed_to_start=_failed_to_start(host, variables["lab_cli"], config_file),
        ha_role=_ha_role(host, variables["lab_cli"], PurePosixPath(config_file).parent),
    )


@pytest.fixture(scope="session")
def scenario_directory() -> str:
    return os.environ["MOLECULE_SCENARIO_DIRECTORY"]
