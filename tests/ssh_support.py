"""Helpers for SSH tests: client keys, accounts, the appliance, OpenSSH and paramiko clients."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from appliance.runtime.aaa.passwords import hash_password_scrypt
from tests.running import RunningAppliance

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class ClientKey:
    private: Path
    public_line: str


def client_key(folder: Path, name: str = "id_ed25519") -> ClientKey:
    folder.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    private = folder / name
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (folder / f"{name}.pub").write_bytes(public + b" test\n")
    return ClientKey(private, public.decode())


def account_section(
    name: str,
    *,
    password: str | None = PASSWORD,
    key: ClientKey | None = None,
    permissions: list[str] | None = None,
) -> str:
    lines = [f"[accounts/{name}]", "groups = users"]
    if password is not None:
        lines.append(f"password = {hash_password_scrypt(password, n=2**12)}")
    if key is not None:
        lines.append(f"ssh_authorized_keys = {key.public_line}")
    if permissions:
        lines.append("permissions = " + "\n    ".join(permissions))
    return "\n".join(lines) + "\n"


def ssh_appliance(
    root: Path,
    accounts: str,
    *,
    service: str = "",
    server_options: str = "",
) -> RunningAppliance:
    services = f"[services/sftp]\ntype = ssh\naddress = 127.0.0.1\nport = {{port}}\n{service}"
    return RunningAppliance(root, services, extra=accounts, server_options=server_options)


def askpass(folder: Path, password: str = PASSWORD) -> dict[str, str]:
    """Environment that makes OpenSSH clients read the password from a script, no tty needed."""
    script = folder / "askpass.sh"
    script.write_text(f"#!/bin/sh\necho '{password}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {
        **os.environ,
        "SSH_ASKPASS": str(script),
        "SSH_ASKPASS_REQUIRE": "force",
        "DISPLAY": "none",
    }


def ssh_options(
    port: int, key: ClientKey | None = None, *, scp: bool = False, methods: str | None = None
) -> list[str]:
    """Options common to ssh, sftp and scp: no known_hosts, no agent, only the given key."""
    options = [
        "-P" if scp else "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "ConnectTimeout=10",
    ]
    if key is not None:
        options += ["-i", str(key.private)]
    else:
        options += ["-o", "PubkeyAuthentication=no"]
    methods = methods or ("publickey" if key else "password,keyboard-interactive")
    return [*options, "-o", f"PreferredAuthentications={methods}"]


def sftp_batch(
    port: int,
    user: str,
    commands: str,
    folder: Path,
    key: ClientKey | None = None,
    env: dict | None = None,
    methods: str | None = None,
) -> subprocess.CompletedProcess:
    batch = folder / "batch.txt"
    batch.write_text(commands)
    options = ssh_options(port, key, scp=True, methods=methods)  # sftp takes -P, like scp
    if env is not None:  # a password comes from SSH_ASKPASS, which batch mode would not ask
        options += ["-o", "BatchMode=no"]
    return subprocess.run(
        ["sftp", *options, "-b", str(batch), f"{user}@127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=folder,
    )


def scp(
    port: int, key: ClientKey, *arguments: str, legacy: bool = False
) -> subprocess.CompletedProcess:
    mode = ["-O"] if legacy else []
    return subprocess.run(
        ["scp", *mode, *ssh_options(port, key, scp=True), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


def ssh(
    port: int, key: ClientKey, user: str, command: str | None, *options: str
) -> subprocess.CompletedProcess:
    remote = [command] if command is not None else []
    return subprocess.run(
        ["ssh", *ssh_options(port, key), *options, f"{user}@127.0.0.1", *remote],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def paramiko_client(app: RunningAppliance, user: str = "alice", **auth) -> paramiko.SSHClient:
    """A connected paramiko client that checks the appliance's ed25519 host key."""
    client = paramiko.SSHClient()
    public = (app.root / "keys" / "ssh_host_ed25519_key.pub").read_text().split()
    key = paramiko.Ed25519Key(data=base64.b64decode(public[1]))
    client.get_host_keys().add(f"[127.0.0.1]:{app.port('sftp')}", public[0], key)
    auth.setdefault("look_for_keys", False)
    auth.setdefault("allow_agent", False)
    client.connect("127.0.0.1", app.port("sftp"), username=user, timeout=10, **auth)
    return client
