"""What the shared verify tests know about a converged lab host, read from its inventory.

Every scenario (default, container, ha) runs these tests through Molecule's testinfra
verifier. Facts about the target come from the scenario's inventory (`lab_*`
variables, set in each scenario's molecule.yml) and from the appliance on the target itself:
its server.ini, and its audit trail (`appliance events`), which says which service types
this build does not have yet (event 20078, "not built in this version").
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pytest

NOT_BUILT = "is not built in this version"


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
    not_built: dict[str, str]

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
        pytest.skip(f"the lab inventory configures no service of type {'/'.join(types)}")

    def require_built(self, service: Service) -> None:
        """Skip, naming the appliance's own report, when this build lacks the service type."""
        if service.id in self.not_built:
            pytest.skip(
                f"services/{service.id} ({service.type}): the appliance reports event 20078 "
                f"'{self.not_built[service.id]}'; this check turns on when it is built"
            )

    def path(self, value: str) -> str:
        """A path option of server.ini, resolved like the runtime does (relative to the file)."""
        return value if value.startswith("/") else str(self.config_dir / value)

    def cli(self, *arguments: str) -> str:
        command = " ".join(
            shlex.quote(a) for a in (self.variables["lab_cli"], *arguments)
        )
        return self.host.check_output(command)


def _not_built(host, cli: str, config_file: str) -> dict[str, str]:
    """Service ids the appliance reported as not built since its last start."""
    output = host.check_output(
        f"{shlex.quote(cli)} events -c {shlex.quote(config_file)} --id 20074 --id 20078 --json"
    )
    not_built: dict[str, str] = {}
    for line in output.splitlines():
        event = json.loads(line)
        if event["id"] == 20074:  # server started: only the latest start counts
            not_built.clear()
        elif NOT_BUILT in str(event["data"].get("error", "")):
            not_built[event["data"]["service"]] = event["data"]["error"]
    return not_built


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
        not_built=_not_built(host, variables["lab_cli"], config_file),
    )


@pytest.fixture(scope="session")
def scenario_directory() -> str:
    return os.environ["MOLECULE_SCENARIO_DIRECTORY"]
