"""Where home folders lie: the folder under which every home a `home_folder_path` can give
is created (its part before the first `${USER}`), resolved as the runtime resolves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from appliance.config.model import Config, Section

USER_VARIABLE = "${USER}"


def home_template_root(config: Config, template: str) -> Path:
    """The fixed part of a home folder template; relative to the configuration's folder."""
    fixed = Path(template.split(USER_VARIABLE, 1)[0] or ".")
    return fixed if fixed.is_absolute() else config.root / fixed


def home_owners(config: Config) -> Iterator[tuple[Section, str]]:
    """Every section that sets a home_folder_path (groups, accounts, authentication methods),
    with its template."""
    for section in [
        *config.groups.values(),
        *config.accounts.values(),
        *config.authentications.values(),
    ]:
        template = section.options.get("home_folder_path")
        if template:
            yield section, template


def home_roots(config: Config) -> list[Path]:
    """The distinct folders holding all home folders, outermost first, none inside another."""
    roots = sorted({home_template_root(config, t).resolve() for _s, t in home_owners(config)})
    kept: list[Path] = []
    for root in roots:
        if not any(root == k or k in root.parents for k in kept):
            kept.append(root)
    return kept
