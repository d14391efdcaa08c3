"""Filter `appliance.mft.ini_section`: one server.ini section, rendered deterministically.

`type` first, the other options sorted by name; a list one item a line (its order is kept:
permissions and chains are ordered), booleans as yes/no; options that are None, "" or []
are left out. The same input always gives the same bytes, so a re-run changes nothing.
"""

from __future__ import annotations

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


class FilterModule:
    def filters(self):
        return {"ini_section": ini_section}
