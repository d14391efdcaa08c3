"""The validated configuration: sections by family and id, each remembering its file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FAMILIES = (
    "server",
    "services",
    "accounts",
    "groups",
    "authentications",
    "event-handlers",
    "resources",
    "locations",
    "transfers",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, printed as FILE:SECTION:OPTION: message."""

    file: str
    section: str
    option: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.section}:{self.option}: {self.message}"


@dataclass
class Section(Mapping):
    """One validated INI section; options hold typed (coerced) values and defaults."""

    family: str
    id: str
    options: dict
    source: Path

    @property
    def name(self) -> str:
        return self.family if self.family == "server" else f"{self.family}/{self.id}"

    @property
    def type(self) -> str | None:
        return self.options.get("type")

    @property
    def enabled(self) -> bool:
        return bool(self.options.get("enabled", True))

    def path(self, option: str) -> Path | None:
        """An option holding a path, resolved against the folder of the file that set it."""
        value = self.options.get(option)
        return resolve_path(self.source, value) if value else None

    def __getitem__(self, key: str):
        return self.options[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)


def resolve_path(source: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (source.parent / path)


@dataclass
class Config:
    """The whole configuration; `root` is server.ini's folder."""

    main_file: Path
    sections: dict[str, dict[str, Section]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.main_file.parent

    @property
    def server(self) -> Section:
        return self.sections["server"]["server"]

    def family(self, family: str) -> dict[str, Section]:
        return self.sections.get(family, {})

    @property
    def services(self) -> dict[str, Section]:
        return self.family("services")

    @property
    def accounts(self) -> dict[str, Section]:
        return self.family("accounts")

    @property
    def groups(self) -> dict[str, Section]:
        return self.family("groups")

    @property
    def authentications(self) -> dict[str, Section]:
        return self.family("authentications")

    @property
    def event_handlers(self) -> dict[str, Section]:
        return self.family("event-handlers")

    @property
    def resources(self) -> dict[str, Section]:
        return self.family("resources")

    @property
    def locations(self) -> dict[str, Section]:
        return self.family("locations")

    @property
    def transfers(self) -> dict[str, Section]:
        return self.family("transfers")

    @property
    def data_folder(self) -> Path:
        return self.server.path("data_folder") or self.root / "data"
