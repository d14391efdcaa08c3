"""Which files make up a node's configuration, derived from the validated config and schemas/.

server.ini, the server.d fragments, and every file an option with the `readable_file` rule
names: SSH host keys, TLS keys and certificates, CA bundles, authorized keys files,
event-handler commands (scripts), signer certificates, password files. Options that name
outputs (the audit database, text logs) or data (home folders) are not configuration: each
node keeps its own audit trail, and user files are on shared storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from appliance.config import Config
from appliance.config.loader import config_files
from appliance.config.model import resolve_path
from appliance.config.schema import section_schema


def _names_files(rules: dict) -> bool:
    return bool(rules.get("readable_file") or (rules.get("schema") or {}).get("readable_file"))


def _option_files(config: Config) -> Iterator[Path]:
    for family, sections in config.sections.items():
        for section in sections.values():
            schema = section_schema(family, section.type)
            for option, rules in schema.items():
                value = section.options.get(option)
                if not value or not _names_files(rules):
                    continue
                for item in value if isinstance(value, list) else [value]:
                    yield resolve_path(section.source, item)


def configuration_files(config: Config) -> list[Path]:
    """Absolute paths, without duplicates, in a stable order."""
    main, fragments = config_files(config.main_file)
    seen: dict[Path, None] = {}
    for path in [main, *fragments, *_option_files(config)]:
        seen.setdefault(Path(path).absolute(), None)
    return list(seen)
