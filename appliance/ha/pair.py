"""The pair definition: ha.ini next to server.ini, validated against schemas/ha.yaml."""

from __future__ import annotations

import configparser
import functools
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from appliance.config.loader import ConfigError
from appliance.config.model import Problem, resolve_path
from appliance.config.schema import schema_folder, validate_options

PAIR_FILE = "ha.ini"
NODE_PREFIX = "nodes/"


@dataclass(frozen=True)
class Node:
    """One node of the pair as every node sees it."""

    id: str
    address: str
    ssh_port: int
    config_folder: str
    command: str

    def appliance(self, *arguments: str) -> str:
        """A shell command line running `appliance ARGUMENTS` on that node."""
        return " ".join([self.command, *(shlex.quote(argument) for argument in arguments)])


@dataclass(frozen=True)
class Pair:
    """This node, its peer and the settings of the sync transport and of promotion."""

    file: Path
    options: dict
    this: Node
    peer: Node
    primary: str

    @property
    def config_folder(self) -> Path:
        """This node's server.ini folder: the folder of ha.ini."""
        return self.file.parent

    @property
    def state_folder(self) -> Path:
        return resolve_path(self.file, self.options["state_folder"])

    def peer_state_folder(self) -> str:
        """The state folder on the peer (ha.ini says the same thing on both nodes)."""
        value = self.options["state_folder"]
        if Path(value).is_absolute():
            return value
        return f"{self.peer.config_folder.rstrip('/')}/{Path(value).as_posix()}"

    def path(self, option: str) -> Path | None:
        value = self.options.get(option)
        return resolve_path(self.file, value) if value else None

    def __getitem__(self, option: str):
        return self.options[option]


@functools.cache
def _schemas(*, check_files: bool = True) -> dict:
    with (schema_folder() / "ha.yaml").open(encoding="utf-8") as stream:
        schemas = yaml.safe_load(stream)
    if not check_files:
        for family in schemas.values():
            for rules in family.values():
                rules.pop("readable_file", None)
    return schemas


def pair_file(config_path: Path | str) -> Path:
    """ha.ini for a server.ini file, its folder, or ha.ini itself."""
    path = Path(config_path)
    if path.is_dir():
        return path / PAIR_FILE
    return path if path.name == PAIR_FILE else path.parent / PAIR_FILE


def _read(file: Path, text_from: Path | None = None) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=True, default_section="\x00")
    parser.optionxform = str
    try:
        parser.read_string((text_from or file).read_text(encoding="utf-8"), source=str(file))
    except FileNotFoundError:
        problem = Problem(str(file), "-", "-", "file not found; expected ha.ini")
        raise ConfigError([problem]) from None
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        message = " ".join(str(error).split())
        raise ConfigError([Problem(str(file), "-", "-", f"cannot be read: {message}")]) from None
    return {name: dict(parser[name]) for name in parser.sections()}


def load_pair(
    config_path: Path | str, *, candidate: Path | None = None, check_files: bool = True
) -> Pair:
    """Read and validate ha.ini; raises ConfigError naming the file, section and option.

    With `candidate`, its text is read as if it were installed at `config_path` (relative
    paths resolve there): how Ansible validates a file before it replaces the real one.
    Without `check_files`, the key files are not looked at: the runtime's account may not
    read the sync transport's private key, and only needs to know the node's role."""
    file = pair_file(config_path).absolute()
    sections = _read(file, candidate)
    schemas = _schemas(check_files=check_files)
    problems: list[Problem] = []
    node_ids = {name.removeprefix(NODE_PREFIX) for name in sections if name != "ha"}
    for name in sections:
        if name != "ha" and not (name.startswith(NODE_PREFIX) and len(name) > len(NODE_PREFIX)):
            problems.append(
                Problem(str(file), name, "-", "unknown section; expected [ha] or [nodes/<id>]")
            )
    validated: dict[str, dict] = {}
    for name, options in sections.items():
        family = "ha" if name == "ha" else "nodes"
        document, option_problems = validate_options(
            schemas[family], options, source=file, known_ids={"nodes": node_ids}
        )
        validated[name] = document
        problems.extend(
            Problem(str(file), name, option, message) for option, message in option_problems
        )
    if "ha" not in sections:
        problems.append(Problem(str(file), "ha", "-", "missing section; expected [ha]"))
    if len(node_ids) != 2:
        problems.append(
            Problem(
                str(file),
                "nodes",
                "-",
                f"expected exactly two [nodes/<id>] sections, found {len(node_ids)}",
            )
        )
    if problems:
        raise ConfigError(problems)
    ha = validated["ha"]
    nodes = {
        node_id: Node(node_id, **validated[NODE_PREFIX + node_id]) for node_id in sorted(node_ids)
    }
    this = nodes[ha["node"]]
    (peer,) = (node for node in nodes.values() if node.id != this.id)
    return Pair(file=file, options=ha, this=this, peer=peer, primary=ha["primary"])


def check_pair(config_path: Path | str, *, candidate: Path | None = None) -> list[Problem]:
    """Every problem of ha.ini; empty when it is valid (`appliance ha check-pair`)."""
    try:
        load_pair(config_path, candidate=candidate)
    except ConfigError as error:
        return error.problems
    return []
