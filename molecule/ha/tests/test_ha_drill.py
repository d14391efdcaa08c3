"""The DR drill on the converged pair, through the project's own playbooks and real clients.

In order, because each step needs the state the one before left: an account is created on
the active (a server.d fragment, reloaded) and a file uploaded by OpenSSH `sftp`, which
learns the service's host key under the service's name; `sync.yml` pushes a generation;
the active stops; a tampered file on the passive makes `promote.yml` fail; `sync.yml` repairs
the copy; `promote.yml` promotes the passive and prints the drill report; the same client,
with strict host-key checking, logs in to the passive's address with the same password and
finds the file (shared storage: one folder bound into both hosts); `failback.yml` returns
the pair to its original roles. The drill report is kept in
tests/artifacts/molecule-ha-drill.txt.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path, PurePosixPath

import pytest
import testinfra

ACTIVE, PASSIVE = "lab-active", "lab-passive"
# Clients know the service by one name (DNS or a VIP moves on failover); OpenSSH files its
# host key under that name with HostKeyAlias.
SERVICE_NAME = "mft.lab.test"
ACCOUNT = "drill-user"
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).parents[3]))


class Node:
    """One lab host of the pair, as the controller sees it."""

    def __init__(self, name: str, inventory: str) -> None:
        self.name = name
        self.host = testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)
        variables = self.host.ansible.get_variables()
        self.address: str = variables["ansible_host"]
        self.cli: str = variables["lab_cli"]
        self.config_dir = PurePosixPath(variables["lab_config_file"]).parent
        self.password: str = variables["lab_probe_password"]
        self.sftp_port = _sftp_port(self.host.file(variables["lab_config_file"]).content_string)

    def appliance(self, *arguments: str) -> str:
        command = " ".join(shlex.quote(a) for a in (self.cli, *arguments))
        return self.host.check_output(command)

    def status(self) -> dict:
        return json.loads(self.appliance("ha", "status", "-c", str(self.config_dir), "--json"))

    def answers(self) -> bool:
        try:
            socket.create_connection((self.address, self.sftp_port), timeout=5).close()
            return True
        except OSError:
            return False


def _sftp_port(server_ini: str) -> int:
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(server_ini)
    for name in ini.sections():
        if name.startswith("services/") and ini[name].get("type") == "ssh":
            return int(ini[name]["port"])
    pytest.fail("the lab's server.ini has no ssh service")


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting until {what}")


class Client:
    """OpenSSH `sftp` on the controller, password from SSH_ASKPASS, host key by service name."""

    def __init__(self, folder: Path, password: str) -> None:
        self.folder = folder
        askpass = folder / "askpass"
        askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(password)}\n")
        askpass.chmod(0o700)
        self.env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
                    "DISPLAY": "none"}  # fmt: skip

    def sftp(self, node: Node, commands: str, *, first_contact: bool = False):
        batch = self.folder / "batch.txt"
        batch.write_text(commands)
        options = [
            "-P", str(node.sftp_port),
            "-o", f"HostKeyAlias={SERVICE_NAME}",
            "-o", f"UserKnownHostsFile={self.folder / 'known_hosts'}",
            "-o", f"StrictHostKeyChecking={'accept-new' if first_contact else 'yes'}",
            "-o", "PubkeyAuthentication=no", "-o", "BatchMode=no", "-o", "IdentityAgent=none",
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        return subprocess.run(
            ["sftp", *options, "-b", str(batch), f"{ACCOUNT}@{node.address}"],
            capture_output=True, text=True, env=self.env, cwd=self.folder, timeout=60,
            check=False,
        )  # fmt: skip


def _playbook(name: str, *extra: str) -> subprocess.CompletedProcess:
    """One of the project's playbooks on the pair; results printed as JSON (parsed below)."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = {**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_FORCE_COLOR", None)  # Molecule sets it on a terminal; it beats NOCOLOR
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, str(PROJECT / "playbooks" / name), *extra],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip


def _add_account(node: Node) -> None:
    """The account is created on the active only: a server.d fragment, then a reload."""
    hashed = node.host.check_output(
        f"printf %s {shlex.quote(node.password)} | {shlex.quote(node.cli)} account hash"
    ).strip()
    fragment = node.config_dir / "server.d" / "60-drill.ini"
    text = f"[accounts/{ACCOUNT}]\ngroups = users\npassword = {hashed}\n"
    node.host.run_expect(
        [0],
        f"printf %s {shlex.quote(text)} > {fragment} && "
        f"chown --reference={node.config_dir / 'server.ini'} {fragment} && "
        f"chmod 0640 {fragment} && {shlex.quote(node.cli)} validate {node.config_dir} && "
        "systemctl reload appliance",
    )


@pytest.fixture(scope="module")
def pair() -> tuple[Node, Node]:
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "run through `molecule verify` (MOLECULE_INVENTORY_FILE is not set)"
    return Node(ACTIVE, inventory), Node(PASSIVE, inventory)


def test_the_sync_runs_unprivileged_on_both_nodes(pair) -> None:
    """The sync account: not root, no capability, owns the configuration; root takes no key."""
    for node in pair:
        unit = node.host.check_output(
            "systemctl show appliance-ha-sync.service -p User -p Group -p CapabilityBoundingSet"
        )
        assert "User=appliance-sync" in unit and "Group=appliance" in unit, unit
        assert "CapabilityBoundingSet=\n" in unit + "\n", unit
        account = node.host.user("appliance-sync")
        assert account.exists and account.uid != 0 and account.groups == ["appliance"]
        config = node.host.file(str(node.config_dir / "server.ini"))
        assert (config.user, config.group, config.mode) == ("appliance-sync", "appliance", 0o640)
        root_keys = node.host.run("cat /root/.ssh/authorized_keys")
        assert "appliance_ha sync key" not in root_keys.stdout, root_keys.stdout
        sync_keys = node.host.file("/var/lib/appliance-sync/.ssh/authorized_keys")
        assert sync_keys.user == "appliance-sync" and "restrict" in sync_keys.content_string


def test_dr_drill_promote_and_failback(pair, tmp_path) -> None:
    active, passive = pair
    assert active.status()["role"] == "active" and passive.status()["role"] == "passive"
    assert active.answers() and not passive.answers()

    # An account on the active, and a file uploaded through it.
    _add_account(active)
    client = Client(tmp_path, active.password)
    report = tmp_path / "report.csv"
    report.write_text("quarterly figures, uploaded before the failover\n")
    uploaded = None
    for _ in range(20):  # the reload is asynchronous
        uploaded = client.sftp(active, f"put {report}\n", first_contact=True)
        if uploaded.returncode == 0:
            break
        time.sleep(1)
    assert uploaded.returncode == 0, uploaded.stderr

    # Sync: a generation with the new fragment reaches the passive.
    synced = _playbook("sync.yml")
    assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-2000:]
    state = passive.status()
    assert state["role"] == "passive" and state["copies_match"] is True, state
    generation = state["generation"]
    assert passive.host.file(str(passive.config_dir / "server.d" / "60-drill.ini")).exists

    # The active goes down (its host stays up: its sshd answers, its services do not).
    active.host.run_expect([0], "systemctl stop appliance")
    _wait(lambda: not active.answers(), "the active stops answering on its SFTP port")

    # A tampered file on the passive: promote.yml fails, naming the file.
    tampered_file = passive.config_dir / "server.ini"
    passive.host.run_expect([0], f"printf '# tampered\\n' >> {tampered_file}")
    refused = _playbook("promote.yml")
    assert refused.returncode != 0, "promote.yml accepted a tampered copy"
    assert "server.ini: SHA-256" in refused.stdout + refused.stderr, refused.stdout[-3000:]
    assert passive.status()["copies_match"] is False and not passive.answers()

    # The next sync sees the copy differ and pushes a new generation, repairing it.
    repaired = _playbook("sync.yml")
    assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr[-2000:]
    assert passive.status()["generation"] == generation + 1
    assert passive.status()["copies_match"] is True

    # The drill.
    promoted = _playbook("promote.yml")
    assert promoted.returncode == 0, promoted.stdout[-4000:] + promoted.stderr[-2000:]
    drill = _drill_report(promoted.stdout)
    artifacts = PROJECT / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "molecule-ha-drill.txt").write_text(drill + "\n")
    assert f"generation promoted   {generation + 1}" in drill, drill
    assert "other node answering  none" in drill, drill
    login = re.search(r"first SFTP login\s+([\d.]+) s after the command", drill)
    assert login, f"the drill report has no successful first login:\n{drill}"
    assert passive.status()["role"] == "active" and passive.answers()

    # The client that trusted the active, strict host-key checking, same password: the file.
    after = client.sftp(passive, "ls -l\nget report.csv fetched.csv\n")
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "fetched.csv").read_text() == report.read_text()

    # Failback: the original roles again, the file still there through the primary.
    back = _playbook("failback.yml")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    assert active.status()["role"] == "active" and passive.status()["role"] == "passive"
    _wait(active.answers, "the primary answers again after failback")
    assert not passive.answers(), "the passive still serves after failback"
    final = client.sftp(active, "ls\n")
    assert final.returncode == 0 and "report.csv" in final.stdout, final.stderr


def _drill_report(playbook_output: str) -> str:
    """The drill report lines from promote.yml's debug output."""
    lines = [json.loads(quoted) for quoted in re.findall(r'^\s+(".*"),?$', playbook_output, re.M)]
    start = next((i for i, line in enumerate(lines) if line.startswith("DR drill report")), None)
    assert start is not None, f"promote.yml printed no drill report:\n{playbook_output[-3000:]}"
    return "\n".join(lines[start : start + 8])
