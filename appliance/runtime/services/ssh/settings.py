"""The settings of one SSH service, read from its [services/<id>] section and [server]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.config import Config, Section
from appliance.config.model import resolve_path


@dataclass(frozen=True)
class SSHSettings:
    service_id: str
    address: str
    port: int
    sftp: bool
    scp: bool
    authentication: str
    """any, publickey, password or "publickey,password" (both required)."""
    maximum_concurrent_connections: int
    idle_connection_timeout: int
    banner: str | None
    trusted_proxies: tuple[str, ...]
    host_key_paths: tuple[Path, ...]

    @property
    def component(self) -> str:
        return f"services/{self.service_id}"


def _host_key_paths(section: Section, config: Config) -> tuple[Path, ...]:
    """The service's own ssh_server_keys, else the server's; relative to the file that set them."""
    owner = section if section.options.get("ssh_server_keys") else config.server
    return tuple(
        resolve_path(owner.source, value) for value in owner.options.get("ssh_server_keys") or []
    )


def settings_from(section: Section, config: Config) -> SSHSettings:
    options = section.options
    trusted = options.get("trusted_proxies")
    if trusted is None:
        trusted = config.server.options.get("trusted_proxies") or []
    return SSHSettings(
        service_id=section.id,
        address=options.get("address", "0.0.0.0"),
        port=int(options["port"]),
        sftp=bool(options.get("sftp", True)),
        scp=bool(options.get("scp", True)),
        authentication=options.get("ssh_authentication", "any"),
        maximum_concurrent_connections=int(options.get("maximum_concurrent_connections", 256)),
        idle_connection_timeout=int(options.get("idle_connection_timeout", 300)),
        banner=options.get("banner"),
        trusted_proxies=tuple(trusted),
        host_key_paths=_host_key_paths(section, config),
    )
