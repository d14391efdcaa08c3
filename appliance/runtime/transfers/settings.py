"""Typed [transfers/<id>] sections, and the locations they name built from [locations/<id>]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.config import Config, Section
from appliance.runtime.aaa.permissions import MatchExpression
from appliance.runtime.transfers.local import LocalLocation
from appliance.runtime.transfers.location import Emit, Location
from appliance.runtime.transfers.schedule import DailyWindow
from appliance.runtime.transfers.sftp import SftpLocation


@dataclass(frozen=True)
class TransferPlan:
    id: str
    source: str
    """The id of the source location: a [locations/<id>], or `transfers/<id>` for a folder."""
    source_path: str
    destination: str
    destination_path: str
    match: MatchExpression
    trigger: str
    interval: int | None
    window: DailyWindow | None
    after: str
    archive_path: str
    temporary_name: bool
    max_parallel: int
    retries: int
    retry_delay: int
    retry_max_delay: int
    enabled: bool

    @property
    def component(self) -> str:
        return f"transfers/{self.id}"

    def wants(self, name: str) -> bool:
        """Whether the file `name` of the source folder is one to send."""
        return self.match.match("/" + name) is not None


def transfer_plan(section: Section, config: Config) -> TransferPlan:
    source = section["source"]
    window = section.options.get("window")
    return TransferPlan(
        id=section.id,
        source=source if source in config.locations else _folder_location_id(section.id),
        source_path=_folder(section["source_path"]),
        destination=section["destination"],
        destination_path=_folder(section["destination_path"]),
        match=MatchExpression(section["match"]),
        trigger=section["trigger"],
        interval=section.options.get("interval"),
        window=DailyWindow.parse(window) if window else None,
        after=section["after"],
        archive_path=section.options.get("archive_path") or "",
        temporary_name=section["temporary_name"],
        max_parallel=section["max_parallel"],
        retries=section["retries"],
        retry_delay=section["retry_delay"],
        retry_max_delay=section["retry_max_delay"],
        enabled=section.enabled,
    )


def _folder(path: str) -> str:
    """A folder option without its trailing slash; "/" stays the root."""
    return path if path in ("", "/") else path.rstrip("/")


def _folder_location_id(transfer_id: str) -> str:
    return f"transfers/{transfer_id}"


def build_location(section: Section, emit: Emit) -> Location:
    if section.type == "local":
        return LocalLocation(section.id, section.path("path"))
    if section.type == "sftp":
        return SftpLocation(section, emit)
    raise ValueError(f"location type {section.type} is not supported yet")


def build_locations(config: Config, emit: Emit) -> dict[str, Location]:
    """Every location the transfers use: the configured ones and the plain source folders."""
    locations = {section.id: build_location(section, emit) for section in config.locations.values()}
    for section in config.transfers.values():
        if section["source"] not in config.locations:
            folder_id = _folder_location_id(section.id)
            locations[folder_id] = LocalLocation(folder_id, section.path("source"))
    return locations


def plans(config: Config) -> dict[str, TransferPlan]:
    return {section.id: transfer_plan(section, config) for section in config.transfers.values()}


def local_source_folder(plan: TransferPlan, locations: dict[str, Location]) -> Path | None:
    """The folder of this host that a transfer reads, None when its source is remote."""
    location = locations[plan.source]
    return location.resolve(plan.source_path) if isinstance(location, LocalLocation) else None
