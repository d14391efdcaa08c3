"""Filters `appliance.mft.ini_section` (one server.ini section, rendered deterministically) and
`appliance.mft.masked_diff` (what differs in an INI file, with secrets masked, for drift).

ini_section: `type` first, the other options sorted by name; a list one item a line (its
order is kept: permissions and chains are ordered), booleans as yes/no; options that are
None, "" or [] are left out. The same input always gives the same bytes, so a re-run
changes nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

INDENT = "\n    "


def _value(item) -> str:
    if item is True:
        return " yes"
    if item is False:
        return " no"
    if isinstance(item, str | int | float):
        return " " + str(item).replace("\n", INDENT)
    items = list(item)
    if len(items) == 1:
        return f" {items[0]}"
    return "".join(INDENT + str(line) for line in items)


def ini_section(options: Mapping, name: str) -> str:
    """`[name]` and its `key = value` lines, each ending with a newline."""
    lines = [f"[{name}]"]
    if "type" in options:
        lines.append(f"type = {options['type']}")
    for key in sorted((k for k in options if k != "type"), key=lambda k: str(k).lower()):
        item = options[key]
        if item is None or item == "" or item == []:
            continue
        lines.append(f"{key} ={_value(item)}")
    return "\n".join(lines) + "\n"


SECRET_LINE = re.compile(r"^(\s*(?:password|[A-Za-z_]*secret[A-Za-z_]*)\s*=).*$", re.MULTILINE)
HASH_VALUE = re.compile(r"\$(?:argon2(?:id|i|d)|scrypt)\$\S+")


def mask_secrets(text: str) -> str:
    """server.ini text with password hashes and secret options replaced by ********."""
    return HASH_VALUE.sub("********", SECRET_LINE.sub(r"\1 ********", text))


def masked_diff(before: str, after: str, path: str) -> list[str]:
    """Unified diff lines from `before` (on the host) to `after` (the inventory), secrets masked."""
    return list(
        difflib.unified_diff(
            mask_secrets(before).splitlines(),
            mask_secrets(after).splitlines(),
            fromfile=f"{path} (on the host)",
            tofile=f"{path} (from the inventory)",
            lineterm="",
        )
    )


class FilterModule:
    def filters(self):
        return {"ini_section": ini_section, "masked_diff": masked_diff}
