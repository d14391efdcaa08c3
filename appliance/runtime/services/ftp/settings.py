"""The options of one `[services/<id>]` section of type ftp or ftps-implicit, typed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.config import Config, Section

IMPLICIT = "ftps-implicit"


@dataclass(frozen=True)
class FTPSettings:
    service_id: str
    address: str
    port: int
    implicit_tls: bool
    passive_ports: range | None
    passive_address: str | None
    certificate: Path | None
    client_ca: Path | None
    require_secured_control: bool
    require_secured_data: bool
    maximum_connections: int
    idle_timeout: int
    banner: str
    trusted_proxies: tuple[str, ...]

    @property
    def component(self) -> str:
        return f"services/{self.service_id}"

    @property
    def tls_enabled(self) -> bool:
        return self.certificate is not None


def parse_port_range(text: str | None) -> range | None:
    """ "60000-60100" (both inclusive) as a range; None when not set."""
    if not text:
        return None
    first, last = (int(part) for part in text.split("-"))
    return range(first, last + 1)


def settings_from(section: Section, config: Config) -> FTPSettings:
    """Read a validated section; TLS material falls back on [server]."""
    server = config.server
    certificate = section.path("tls_private_certificate") or server.path("tls_private_certificate")
    implicit = section.type == IMPLICIT
    if implicit and certificate is None:
        raise ValueError(
            f"service {section.id} is ftps-implicit but no tls_private_certificate is set "
            "in the section or in [server]"
        )
    return FTPSettings(
        service_id=section.id,
        address=section["address"],
        port=section["port"],
        implicit_tls=implicit,
        passive_ports=parse_port_range(section.options.get("passive_port_range")),
        passive_address=section.options.get("passive_address"),
        certificate=certificate,
        client_ca=server.path("tls_certificate_authority"),
        require_secured_control=implicit or bool(section.options["ftps_require_secured_control"]),
        require_secured_data=bool(section.options["ftps_require_secured_data"]),
        maximum_connections=section["maximum_concurrent_connections"],
        idle_timeout=section["idle_connection_timeout"],
        banner=section.options.get("banner") or f"{server.options.get('name', 'appliance')} FTP",
        trusted_proxies=tuple(
            section.options.get("trusted_proxies") or server.options.get("trusted_proxies") or ()
        ),
    )
