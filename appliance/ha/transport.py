"""The sync transport: pyinfra operations over its SSH connector (paramiko) to the peer's sshd.

Host keys are always checked against the pair's known_hosts file; agents and default keys
are never used. Remote appliance commands report their exit status on the last line of
their output (`exit=N`), so a refusal reads as a result, not as a transport failure.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from appliance.ha.pair import Node, Pair

EXIT_LINE = re.compile(r"^exit=(\d+)$")


class TransportError(Exception):
    """The peer could not be reached or an operation on it failed."""


@dataclass(frozen=True)
class Upload:
    source: Path
    destination: str
    """Absolute path on the peer."""


@dataclass(frozen=True)
class RemoteResult:
    exit_status: int
    stdout: str
    stderr: str


class _Collect(logging.Handler):
    """Keeps pyinfra's log lines so that a failure can say what went wrong."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage()))


def _host_data(pair: Pair, node: Node) -> dict:
    return {
        "ssh_hostname": node.address,
        "ssh_port": node.ssh_port,
        "ssh_user": pair["sync_user"],
        "ssh_key": str(pair.path("sync_private_key")),
        "ssh_known_hosts_file": str(pair.path("sync_known_hosts")),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
        "ssh_paramiko_connect_kwargs": {"timeout": pair["sync_timeout"]},
    }


def run_on(
    pair: Pair,
    node: Node,
    command: str,
    *,
    uploads: list[Upload] = (),
    folders: list[str] = (),
) -> RemoteResult:
    """Create folders (mode 0700), upload files (mode 0600), then run one shell command."""
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all, disconnect_all
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operation import add_op
    from pyinfra.api.operations import run_ops
    from pyinfra.operations import files, server

    collect = _Collect()
    pyinfra_log = logging.getLogger("pyinfra")
    pyinfra_log.addHandler(collect)
    propagate, pyinfra_log.propagate = pyinfra_log.propagate, False
    state = State(
        inventory=Inventory(([(node.id, _host_data(pair, node))], {})),
        config=Config(CONNECT_TIMEOUT=pair["sync_timeout"]),
    )
    try:
        connect_all(state)
        if state.failed_hosts or not state.activated_hosts:
            raise TransportError(_reason(collect, f"cannot connect to {node.address}"))
        for folder in folders:
            add_op(state, files.directory, name=f"folder {folder}", path=folder, mode="700")
        for upload in uploads:
            add_op(
                state,
                files.put,
                name=f"upload {upload.destination}",
                src=str(upload.source),
                dest=upload.destination,
                mode="600",
            )
        shell = [f"{command}; echo exit=$?"]
        result = add_op(state, server.shell, name="appliance", commands=shell)
        run_ops(state)
        meta = next(iter(result.values()))
        if not meta.did_succeed():
            raise TransportError(_reason(collect, "remote operation failed"))
        lines = meta.stdout_lines
        match = EXIT_LINE.match(lines[-1]) if lines else None
        if not match:
            raise TransportError(_reason(collect, "remote command gave no exit status"))
        return RemoteResult(int(match[1]), "\n".join(lines[:-1]), meta.stderr)
    except PyinfraError as error:
        raise TransportError(_reason(collect, str(error))) from None
    except OSError as error:
        raise TransportError(f"{node.address}:{node.ssh_port}: {error}") from None
    finally:
        try:
            disconnect_all(state)
        finally:
            pyinfra_log.removeHandler(collect)
            pyinfra_log.propagate = propagate


def _reason(collect: _Collect, fallback: str) -> str:
    useful = [line.strip() for line in collect.lines if line.strip()]
    return "; ".join(useful[-3:]) or fallback
