"""Network checks of promotion: does the other node still answer, and a real local SFTP login.

The login (paramiko) accepts only the host keys of the synced configuration, so it also
proves that clients which trusted the active see the same key on the promoted node.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko

from appliance.config import Config, Section


def ssh_service(config: Config) -> Section | None:
    for section in config.services.values():
        if section.enabled and section.type == "ssh":
            return section
    return None


def listening_ports(config: Config) -> list[int]:
    return sorted({section["port"] for section in config.services.values() if section.enabled})


def answering_ports(address: str, ports: list[int], timeout: float = 2.0) -> list[int]:
    """The ports on which `address` accepts a TCP connection."""
    answering = []
    for port in ports:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                answering.append(port)
        except OSError:
            continue
    return answering


def local_address(address: str) -> str:
    """Where to reach a local listener: loopback for a wildcard address."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified:
        return "::1" if ip.version == 6 else "127.0.0.1"
    return address


def host_key_paths(config: Config, section: Section) -> list[Path]:
    owner = section if section.options.get("ssh_server_keys") else config.server
    return [Path(value) if Path(value).is_absolute() else owner.source.parent / value
            for value in owner.options.get("ssh_server_keys") or []]  # fmt: skip


def synced_host_keys(config: Config, section: Section) -> dict[str, str]:
    """base64 public key -> SHA256 fingerprint, for every configured host key."""
    keys = {}
    for path in host_key_paths(config, section):
        key = paramiko.PKey.from_path(path)
        keys[key.get_base64()] = key.fingerprint
    return keys


@dataclass(frozen=True)
class Login:
    address: str
    port: int
    account: str
    host_key_fingerprint: str


class _KnownKeys(paramiko.MissingHostKeyPolicy):
    """Accept only the synced host keys (the promoted node's own configuration)."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def missing_host_key(self, client, hostname, key) -> None:
        if key.get_base64() not in self.keys:
            raise paramiko.SSHException(
                f"host key {key.fingerprint} is not one of the synced host keys"
            )


def sftp_login(config: Config, account: str, private_key: Path, timeout: float = 10) -> Login:
    """Log in over SFTP to the local SSH service and list the home folder."""
    section = ssh_service(config)
    if section is None:
        raise RuntimeError("no enabled SSH service in the configuration")
    keys = synced_host_keys(config, section)
    address, port = local_address(section["address"]), section["port"]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_KnownKeys(keys))
    try:
        client.connect(
            address,
            port=port,
            username=account,
            pkey=paramiko.PKey.from_path(private_key),
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
        fingerprint = client.get_transport().get_remote_server_key().fingerprint
        with client.open_sftp() as sftp:
            sftp.listdir(".")
    finally:
        client.close()
    return Login(address, port, account, fingerprint)
