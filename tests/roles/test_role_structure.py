"""Each role stands on its own, as it must in the collection: every handler a role notifies is
defined in that role or in a role its meta/main.yml declares as a dependency."""

from __future__ import annotations

import yaml

from tests.conftest import REPO

ROLES = REPO / "roles"
NAMESPACE = "appliance.mft."


def _handlers(role: str) -> set[str]:
    path = ROLES / role / "handlers" / "main.yml"
    if not path.exists():
        return set()
    names: set[str] = set()
    for handler in yaml.safe_load(path.read_text()) or []:
        names.add(handler["name"])
        listen = handler.get("listen", [])
        names.update([listen] if isinstance(listen, str) else listen)
    return names


def _dependencies(role: str) -> list[str]:
    meta = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text()) or {}
    found = []
    for dependency in meta.get("dependencies") or []:
        name = dependency["role"] if isinstance(dependency, dict) else dependency
        found.append(name.removeprefix(NAMESPACE))
    return found


def _notified(role: str) -> set[str]:
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            notify = node.get("notify")
            if notify:
                names.update([notify] if isinstance(notify, str) else notify)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        walk(yaml.safe_load(path.read_text()))
    return names


def test_every_notified_handler_is_in_the_role_or_a_declared_dependency():
    roles = sorted(path.name for path in ROLES.iterdir() if (path / "tasks").is_dir())
    assert "appliance_service" in roles
    problems = []
    for role in roles:
        dependencies = _dependencies(role)
        for dependency in dependencies:
            if not (ROLES / dependency).is_dir():
                problems.append(f"{role}: meta names {dependency}, which is not a role here")
        available = _handlers(role).union(*(_handlers(d) for d in dependencies))
        for name in sorted(_notified(role) - available):
            problems.append(
                f"{role} notifies {name!r}, which neither it nor its dependencies "
                f"({', '.join(dependencies) or 'none'}) define"
            )
    assert not problems, "\n".join(problems)


def test_no_role_carries_a_copy_of_another_roles_template():
    """One INI renderer (the appliance.mft.ini_section filter), not a macro file per role."""
    copies = sorted(str(path.relative_to(REPO)) for path in ROLES.glob("*/templates/_*.j2"))
    assert not copies, f"shared template macros copied into roles: {copies}"
