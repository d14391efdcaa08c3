"""Render the appliance_lb role's HAProxy template outside Ansible, for tests and benchmarks.

The template is the role's own file with the role's defaults; only Ansible's `bool` filter
and `ansible_managed` are supplied here. tests/roles lint the role as Ansible runs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import jinja2
import yaml

ROLE = Path(__file__).resolve().parents[1] / "roles" / "appliance_lb"


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "on", "1")


def render_haproxy(variables: dict) -> str:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    environment = jinja2.Environment(  # noqa: S701 - a configuration file, not HTML
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    environment.filters["bool"] = _bool
    template = (ROLE / "templates" / "haproxy.cfg.j2").read_text(encoding="utf-8")
    values = {**defaults, "ansible_managed": "rendered from roles/appliance_lb", **variables}
    return environment.from_string(template).render(**values)


def write_checked(path: Path, variables: dict) -> Path:
    """Render to `path` and have `haproxy -c` accept it (AssertionError with its words)."""
    path.write_text(render_haproxy(variables))
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr + path.read_text()
    return path
