"""A two-node lab on one machine: network namespaces on a bridge, an sshd per node, configs.

Namespaces: one per node (alpha 10.77.0.1, beta 10.77.0.2), one for the client (10.77.0.9),
and one holding the bridge that joins them. Each node runs its own sshd (the sync
transport) on port 2222 of its address and the appliance inside `ip netns exec`; user
files live in one folder both nodes use (the shared storage). Everything is removed at
the end, processes by the pids found in the lab's own namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.runtime.aaa.passwords import hash_password_scrypt
from tests.helpers import wait_for
from tests.running import _write_keys
from tests.ssh_support import PASSWORD, client_key

REPO = Path(__file__).resolve().parents[1]
SSHD_PORT = 2222
SFTP_PORT = 2022
NODES = {"alpha": "10.77.0.1", "beta": "10.77.0.2"}
CLIENT_ADDRESS = "10.77.0.9"
SERVICE_NAME = "mft.lab.test"
"""The name clients know the service by (DNS or a VIP moves between the nodes)."""


def _run(*command: str, check: bool = True, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(command), capture_output=True, text=True, check=check, timeout=120, **options
    )


def _ssh_keygen(path: Path) -> None:
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path))


@dataclass
class Lab:
    root: Path
    prefix: str = field(default_factory=lambda: f"ha{os.getpid() % 100000}")
    namespaces: list[str] = field(default_factory=list)

    # -- names ----------------------------------------------------------------
    def netns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def config(self, node: str) -> Path:
        return self.root / node / "config"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    def in_node(self, node: str, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns(node), *command]

    def appliance(self, node: str, *arguments: str, check: bool = False):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = self.in_node(node, sys.executable, "-m", "appliance", *arguments)
        return _run(*command, check=check, env=env, cwd=self.root)

    # -- network --------------------------------------------------------------
    def network_up(self) -> None:
        bridge = self.netns("lan")
        for name in ("lan", "alpha", "beta", "client"):
            _run("ip", "netns", "add", self.netns(name))
            self.namespaces.append(self.netns(name))
            _run("ip", "-n", self.netns(name), "link", "set", "lo", "up")
        _run("ip", "-n", bridge, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", bridge, "link", "set", "br0", "up")
        addresses = {**NODES, "client": CLIENT_ADDRESS}
        for name, address in addresses.items():
            port = f"p-{name}"
            _run("ip", "link", "add", port, "netns", bridge, "type", "veth",
                 "peer", "name", "eth0", "netns", self.netns(name))  # fmt: skip
            _run("ip", "-n", bridge, "link", "set", port, "master", "br0", "up")
            _run("ip", "-n", self.netns(name), "addr", "add", f"{address}/24", "dev", "eth0")
            _run("ip", "-n", self.netns(name), "link", "set", "eth0", "up")

    # -- sync transport: a keypair, each node's sshd, known_hosts -----------------
    def sshd_up(self) -> None:
        sync = self.root / "sync"
        sync.mkdir(parents=True)
        _ssh_keygen(sync / "id_ed25519")
        (sync / "authorized_keys").write_text((sync / "id_ed25519.pub").read_text())
        Path("/run/sshd").mkdir(exist_ok=True)
        known = []
        for node, address in NODES.items():
            _ssh_keygen(sync / f"{node}_host_key")
            known.append(f"[{address}]:{SSHD_PORT} {(sync / f'{node}_host_key.pub').read_text()}")
            config = sync / f"{node}_sshd_config"
            config.write_text(
                textwrap.dedent(f"""\
                ListenAddress {address}:{SSHD_PORT}
                HostKey {sync}/{node}_host_key
                PidFile {sync}/{node}_sshd.pid
                AuthorizedKeysFile {sync}/authorized_keys
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                Subsystem sftp internal-sftp
                """)
            )
            _run(*self.in_node(node, "/usr/sbin/sshd", "-f", str(config), "-E", f"{config}.log"))
        (sync / "known_hosts").write_text("".join(known))

    # -- the appliance's configuration on each node --------------------------------
    def write_pair(self, node: str) -> None:
        folder = self.config(node)
        folder.mkdir(parents=True, exist_ok=True)
        nodes = "\n".join(
            textwrap.dedent(f"""\
            [nodes/{name}]
            address = {address}
            ssh_port = {SSHD_PORT}
            config_folder = {self.config(name)}
            command = env PYTHONPATH={REPO} {sys.executable} -m appliance
            """)
            for name, address in NODES.items()
        )
        (folder / "ha.ini").write_text(
            textwrap.dedent(f"""\
            [ha]
            node = {node}
            primary = alpha
            sync_private_key = {self.root}/sync/id_ed25519
            sync_known_hosts = {self.root}/sync/known_hosts
            sync_attempts = 2
            sync_retry_delay = 1
            probe_account = ha-probe
            probe_private_key = {self.root}/probe/id_ed25519
            probe_timeout = 60

            """)
            + nodes
        )

    def write_active_config(self) -> None:
        folder = self.config("alpha")
        _write_keys(folder / "keys")
        probe = client_key(self.root / "probe")
        (folder / "keys" / "ha-probe.pub").write_text(probe.public_line + "\n")
        (folder / "server.ini").write_text(
            textwrap.dedent(f"""\
            [server]
            authentications = local
            ssh_server_keys = keys/ssh_host_ed25519_key, keys/ssh_host_rsa_key
            tls_private_certificate = keys/tls.pem

            [authentications/local]
            type = application

            [services/sftp]
            type = ssh
            address = 0.0.0.0
            port = {SFTP_PORT}

            [groups/users]
            home_folder_path = {self.shared}/${{USER}}
            permissions = allow-full-control

            [accounts/ha-probe]
            groups = users
            ssh_authorized_keys_path = keys/ha-probe.pub

            [event-handlers/audit]
            type = sqlite
            path = data/audit.db
            """)
        )

    def add_account(self, node: str, name: str) -> None:
        """An account in the fragment server.d/accounts.ini (created on first use)."""
        fragment = self.config(node) / "server.d" / "accounts.ini"
        fragment.parent.mkdir(exist_ok=True)
        hashed = hash_password_scrypt(PASSWORD, n=2**12)
        with fragment.open("a") as stream:
            stream.write(f"[accounts/{name}]\ngroups = users\npassword = {hashed}\n\n")

    # -- processes ----------------------------------------------------------------
    def serve(self, node: str) -> subprocess.Popen:
        log = (self.root / f"{node}-serve.log").open("w")
        return subprocess.Popen(
            self.in_node(node, sys.executable, "-m", "appliance", "serve", "-q", "-c",
                         str(self.config(node))),
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def listening(self, node: str) -> bool:
        probe = f"exec 3<>/dev/tcp/{NODES[node]}/{SFTP_PORT}"
        result = _run(*self.in_node("client", "bash", "-c", probe), check=False)
        return result.returncode == 0

    def wait_listening(self, node: str, up: bool = True, timeout: float = 60) -> None:
        wait_for(lambda: self.listening(node) == up, timeout=timeout, interval=0.2)

    def pids(self, namespace: str) -> list[int]:
        result = _run("ip", "netns", "pids", namespace, check=False)
        return [int(pid) for pid in result.stdout.split()]

    def teardown(self) -> None:
        for namespace in self.namespaces:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                pids = self.pids(namespace)
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                deadline = time.monotonic() + 10
                while self.pids(namespace) and time.monotonic() < deadline:
                    time.sleep(0.1)
        for namespace in reversed(self.namespaces):
            _run("ip", "netns", "del", namespace, check=False)


def sftp_from_client(
    lab: Lab, node: str, commands: str, *, accept_new: bool, user: str = "alice"
) -> subprocess.CompletedProcess:
    """OpenSSH sftp from the client namespace, host key checked under the service's name."""
    from tests.ssh_support import askpass

    folder = lab.root / "client"
    folder.mkdir(exist_ok=True)
    batch = folder / "batch.txt"
    batch.write_text(commands)
    options = [
        "-P", str(SFTP_PORT),
        "-o", f"HostKeyAlias={SERVICE_NAME}",
        "-o", f"UserKnownHostsFile={folder / 'known_hosts'}",
        "-o", f"StrictHostKeyChecking={'accept-new' if accept_new else 'yes'}",
        "-o", "PubkeyAuthentication=no", "-o", "BatchMode=no",
        "-o", "IdentityAgent=none", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
    ]  # fmt: skip
    return _run(
        *lab.in_node("client", "sftp", *options, "-b", str(batch), f"{user}@{NODES[node]}"),
        check=False,
        env=askpass(folder),
        cwd=folder,
    )
