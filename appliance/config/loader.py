"""Read server.ini and server.d/*.ini, merge them, validate every section, run cross-checks."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from appliance.config.checks import cross_check
from appliance.config.model import FAMILIES, Config, Problem, Section
from appliance.config.schema import validate_section

SECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
MAIN_FILE = "server.ini"
FRAGMENTS = "server.d"


class ConfigError(Exception):
    """The configuration is invalid; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass
class _RawSection:
    family: str
    id: str
    options: dict[str, str]
    source: Path


def config_files(path: Path, overlay: dict[Path, Path] | None = None) -> tuple[Path, list[Path]]:
    """The main file and the fragments (in name order) for a file or a config folder.

    `overlay` maps installed paths to candidate files read in their place; a candidate for a
    fragment that is not installed yet joins the fragments.
    """
    path = Path(path)
    main = path / MAIN_FILE if path.is_dir() else path
    fragments_dir = main.parent / FRAGMENTS
    fragments = set(fragments_dir.glob("*.ini")) if fragments_dir.is_dir() else set()
    for installed in overlay or {}:
        if installed.parent == fragments_dir and installed.suffix == ".ini":
            fragments.add(installed)
    return main, sorted(fragments, key=lambda fragment: fragment.name)


def staged_overlay(config_path: Path, staged: Path) -> dict[Path, Path]:
    """Installed path -> staged file, for every server.ini and server.d/*.ini under `staged`."""
    config_path = Path(config_path)
    root = config_path if config_path.is_dir() else config_path.parent
    overlay = {}
    if (staged / MAIN_FILE).is_file():
        overlay[root / MAIN_FILE] = staged / MAIN_FILE
    for fragment in sorted((staged / FRAGMENTS).glob("*.ini")):
        overlay[root / FRAGMENTS / fragment.name] = fragment
    return overlay


def _unclosed_header(text: str) -> tuple[int, str] | None:
    """The first line that opens a section header without closing it (configparser would
    read it as an option and report something unrelated)."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if line.startswith("[") and not stripped.endswith("]"):
            return lineno, stripped
    return None


def _read_file(
    path: Path, problems: list[Problem], read_from: Path | None = None
) -> list[tuple[str, dict[str, str]]]:
    parser = configparser.ConfigParser(
        interpolation=None, strict=True, empty_lines_in_values=False, default_section="\x00"
    )
    parser.optionxform = str  # option names are case-sensitive, as in the schemas
    try:
        text = (read_from or path).read_text(encoding="utf-8-sig")  # editors may add a BOM
    except FileNotFoundError:
        problems.append(Problem(str(path), "-", "-", "file not found; expected a server.ini"))
        return []
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(str(path), "-", "-", f"cannot be read: {error}"))
        return []
    unclosed = _unclosed_header(text)
    if unclosed is not None:
        lineno, line = unclosed
        problems.append(
            Problem(
                str(path),
                "-",
                "-",
                f"line {lineno}: section header {line!r} is not closed; expected a ']' at its end",
            )
        )
        return []
    try:
        parser.read_string(text, source=str(path))
    except configparser.DuplicateSectionError as error:
        problems.append(
            Problem(
                str(path),
                error.section,
                "-",
                f"section defined twice in this file (line {error.lineno})",
            )
        )
        return []
    except configparser.DuplicateOptionError as error:
        problems.append(
            Problem(
                str(path),
                error.section,
                error.option,
                f"option set twice in this section (line {error.lineno})",
            )
        )
        return []
    except configparser.MissingSectionHeaderError as error:
        problems.append(
            Problem(
                str(path), "-", "-", f"line {error.lineno}: text before the first [section] header"
            )
        )
        return []
    except configparser.Error as error:
        message = " ".join(str(error).split())
        problems.append(Problem(str(path), "-", "-", f"not valid INI: {message}"))
        return []
    return [(name, dict(parser[name])) for name in parser.sections()]


def _split_name(name: str) -> tuple[str, str] | None:
    if name == "server":
        return "server", "server"
    family, sep, section_id = name.partition("/")
    if not sep or family not in FAMILIES or family == "server":
        return None
    return family, section_id


def read_sections(
    path: Path, overlay: dict[Path, Path] | None = None
) -> tuple[Path, list[_RawSection], list[Problem]]:
    """Parse every file; report unknown or duplicated sections across files."""
    overlay = overlay or {}
    main, fragments = config_files(path, overlay)
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    raw: list[_RawSection] = []
    for file in [main, *fragments]:
        for name, options in _read_file(file, problems, overlay.get(file)):
            split = _split_name(name)
            if split is None:
                problems.append(
                    Problem(
                        str(file),
                        name,
                        "-",
                        "unknown section; expected [server] "
                        "or [FAMILY/ID] with FAMILY one of " + ", ".join(FAMILIES[1:]),
                    )
                )
                continue
            family, section_id = split
            if not SECTION_ID.match(section_id):
                problems.append(
                    Problem(
                        str(file),
                        name,
                        "-",
                        "invalid id; expected letters, digits, '.', '_', '-', '@' "
                        "starting with a letter or digit",
                    )
                )
                continue
            if name in seen:
                problems.append(
                    Problem(
                        str(file),
                        name,
                        "-",
                        f"section already defined in {seen[name]}; "
                        "each section may be defined once",
                    )
                )
                continue
            seen[name] = file
            raw.append(_RawSection(family, section_id, options, file))
    return main, raw, problems


def load_config(path: Path | str, overlay: dict[Path, Path] | None = None) -> Config:
    """Load and validate; raises ConfigError with every problem found.

    With `overlay` (installed path -> candidate file), candidates are read in place of the
    installed files, as if already installed: how Ansible validates a file before installing it.
    """
    main, raw_sections, problems = read_sections(Path(path), overlay)
    if problems:
        raise ConfigError(problems)  # structure first: later checks would only echo these
    known_ids: dict[str, set[str]] = {family: set() for family in FAMILIES}
    for section in raw_sections:
        known_ids[section.family].add(section.id)
    config = Config(main_file=main)
    for raw in raw_sections:
        options, section_problems = validate_section(
            raw.family, raw.options, source=raw.source, known_ids=known_ids
        )
        name = raw.family if raw.family == "server" else f"{raw.family}/{raw.id}"
        problems.extend(
            Problem(str(raw.source), name, option, message) for option, message in section_problems
        )
        config.sections.setdefault(raw.family, {})[raw.id] = Section(
            raw.family, raw.id, options, raw.source
        )
    if "server" not in config.sections and (main.is_file() or main in (overlay or {})):
        problems.append(Problem(str(main), "server", "-", "missing section; expected [server]"))
    if not problems:
        problems.extend(cross_check(config))
    if problems:
        raise ConfigError(problems)
    return config


def validate_path(path: Path | str, overlay: dict[Path, Path] | None = None) -> list[Problem]:
    """Every problem of the configuration at `path`; empty when it is valid."""
    try:
        load_config(path, overlay)
    except ConfigError as error:
        return error.problems
    return []
