"""Validate Ansible role variables against schemas/roles/<role>.yaml before a host is touched.

Each role schema maps variable names to cerberus rules. Two extra rules reuse the server.ini
schemas, so a variable that becomes a server.ini option is checked by the same definition:
`server_ini_family: FAMILY` (a dict of id -> section options of that family) and
`server_ini_section: FAMILY` (one section's options) and `server_ini_option: [FAMILY, TYPE,
OPTION]` (one value). Files named in options live on the managed host, so `readable_file` is
left to `appliance validate` there. Problems read `VARIABLE[.key...]: what was expected`.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from appliance.config.loader import SECTION_ID
from appliance.config.model import FAMILIES
from appliance.config.schema import (
    IniValidator,
    describe_errors,
    family_schema,
    reword,
    schema_folder,
    section_schema,
)

# Variables of one family of sections, per role; used to know which ids exist.
FAMILY_VARIABLES = {
    "services": "appliance_services",
    "accounts": "appliance_accounts",
    "groups": "appliance_groups",
    "authentications": "appliance_authentications",
    "event-handlers": "appliance_event_handlers",
    "resources": "appliance_resources",
}


def roles_schema_folder() -> Path:
    return schema_folder() / "roles"


def role_names() -> list[str]:
    return sorted(path.stem for path in roles_schema_folder().glob("*.yaml"))


@functools.cache
def role_schema(role: str) -> dict:
    path = roles_schema_folder() / f"{role}.yaml"
    if not path.is_file():
        raise ValueError(f"no schema for role {role!r}; expected one of {', '.join(role_names())}")
    with path.open(encoding="utf-8") as stream:
        return (yaml.safe_load(stream) or {}).get("variables") or {}


def owner_role(variable: str, roles: list[str]) -> str | None:
    """The role whose name is the longest prefix of `variable` (appliance_pki_x: appliance_pki)."""
    owners = [role for role in roles if variable.startswith(role + "_")]
    return max(owners, key=len) if owners else None


def known_ids(variables: dict) -> dict[str, set[str] | None]:
    """Ids of every family that the variables define; None where they do not say."""
    ids: dict[str, set[str] | None] = {family: None for family in FAMILIES}
    for family, variable in FAMILY_VARIABLES.items():
        if isinstance(variables.get(variable), dict):
            ids[family] = set(variables[variable])
    # The LDAP and logging roles each add their own sections.
    if variables.get("appliance_ldap_enabled", True) and "appliance_ldap_id" in variables:
        ids["authentications"] = (ids["authentications"] or set()) | {
            variables["appliance_ldap_id"]
        }
    handlers = (variables.get("appliance_logging_syslog_handlers") or []) + (
        variables.get("appliance_logging_email_handlers") or []
    )
    for handler in handlers:
        if isinstance(handler, dict) and "id" in handler:
            ids["event-handlers"] = (ids["event-handlers"] or set()) | {handler["id"]}
    if variables.get("appliance_logging_smtp_enabled") and "appliance_logging_smtp_id" in variables:
        ids["resources"] = (ids["resources"] or set()) | {variables["appliance_logging_smtp_id"]}
    return ids


class _HostIniValidator(IniValidator):
    """server.ini rules for values on the controller: files live on the host, ids may be open."""

    def _validate_readable_file(self, wanted, field, value):
        """{'type': 'boolean'}"""

    def _validate_references(self, family, field, value):
        """{'type': 'string'}"""
        if (self._config.get("known_ids") or {}).get(family) is not None:
            super()._validate_references(family, field, value)


def _section_problems(family: str, options: dict, ids: dict) -> list[tuple[str, str]]:
    if not isinstance(options, dict):
        return [("", f"expected a mapping of {family} options, got {type(options).__name__}")]
    types = family_schema(family)["types"]
    section_type = options.get("type")
    if types and section_type is not None and section_type not in types:
        return [("type", f"unknown type {section_type!r}; expected one of {', '.join(types)}")]
    schema = section_schema(family, section_type)
    validator = _HostIniValidator(schema, known_ids=ids)
    if validator.validate(options):
        return []
    return describe_errors(validator.errors, schema, unknown="unknown server.ini option")


class RoleVarsValidator(_HostIniValidator):
    """Cerberus over role variables, with rules that defer to the server.ini schemas."""

    def _validate_zone(self, wanted, field, value):
        """{'type': 'boolean'}"""
        zones = self._config["variables"].get("dmz_firewall_zones")
        if wanted and isinstance(zones, dict) and value not in zones:
            self._error(
                field, f"unknown zone {value!r}; expected one of {', '.join(sorted(zones))}"
            )

    def _validate_server_ini_handler(self, handler_type, field, value):
        """{'type': 'string'}"""
        if not isinstance(value, dict):
            return
        options = {key: item for key, item in value.items() if key != "id"}
        options["type"] = handler_type
        if handler_type == "email":
            variables = self._config["variables"]
            options["resource"] = variables.get("appliance_logging_smtp_id", "smtp-relay")
        ids = dict(self._config["ids"], resources=None)
        for option, message in _section_problems("event-handlers", options, ids):
            self._error(field, f"{option}: {message}")

    def _validate_egress_hosts_are_addresses(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not (wanted and value):
            return
        variables = self._config["variables"]
        hosts = []
        if variables.get("appliance_ldap_enabled", True):
            hosts += [
                ("appliance_ldap_urls", url) for url in variables.get("appliance_ldap_urls") or []
            ]
        hosts += [
            ("appliance_logging_syslog_handlers", handler.get("url", ""))
            for handler in variables.get("appliance_logging_syslog_handlers") or []
            if isinstance(handler, dict)
        ]
        if variables.get("appliance_logging_smtp_enabled"):
            hosts.append(
                (
                    "appliance_logging_smtp_address",
                    variables.get("appliance_logging_smtp_address", ""),
                )
            )
        for variable, url in hosts:
            host = urlsplit(url).hostname if "://" in str(url) else str(url)
            try:
                ipaddress.ip_address(host or "")
            except ValueError:
                self._error(
                    field,
                    f"{variable} names host {host!r}; expected an IP address, since the derived "
                    "nftables egress rules match addresses (or set dmz_firewall_egress_derived "
                    "to false and list dmz_firewall_egress)",
                )

    def _validate_distinct_passive_ranges(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not (wanted and isinstance(value, list)):
            return
        claimed: dict[str, list[tuple[int, int, str]]] = {}
        for node in value:
            if not isinstance(node, dict):
                continue
            for service_id, text in (node.get("passive_port_ranges") or {}).items():
                low, _, high = str(text).partition("-")
                if not (low.isdigit() and high.isdigit()):
                    continue  # the regex rule reports it
                low_port, high_port = int(low), int(high)
                name = node.get("name", "?")
                if not 1024 <= low_port <= high_port <= 65535:
                    self._error(
                        field,
                        f"{name}: passive_port_ranges.{service_id} {text}; expected "
                        "LOW-HIGH with 1024 <= LOW <= HIGH <= 65535",
                    )
                    continue
                for other_low, other_high, other in claimed.get(service_id, []):
                    if low_port <= other_high and other_low <= high_port:
                        self._error(
                            field,
                            f"{name}: passive_port_ranges.{service_id} {text} overlaps "
                            f"{other}'s {other_low}-{other_high}; expected a distinct range per "
                            "node (the balancer sends each range to one node)",
                        )
                claimed.setdefault(service_id, []).append((low_port, high_port, name))

    def _validate_server_ini_family(self, family, field, value):
        """{'type': 'string'}"""
        if not isinstance(value, dict):
            return
        for section_id, options in value.items():
            if not SECTION_ID.match(str(section_id)):
                self._error(field, f"{section_id}: invalid id; expected letters, digits, '.-_@'")
                continue
            for option, message in _section_problems(family, options, self._config["ids"]):
                where = f"{section_id}.{option}" if option else str(section_id)
                self._error(field, f"{where}: {message}")

    def _validate_server_ini_section(self, family, field, value):
        """{'type': 'string'}"""
        if isinstance(value, dict):
            for option, message in _section_problems(family, value, self._config["ids"]):
                self._error(field, f"{option}: {message}")

    def _validate_server_ini_option(self, where, field, value):
        """{'type': 'list'}"""
        family, section_type, option = where
        rule = section_schema(family, section_type).get(option)
        if rule is None:
            raise ValueError(f"schemas/{family}.yaml has no option {option!r} for {section_type}")
        validator = _HostIniValidator({option: rule}, known_ids=self._config["ids"])
        if not validator.validate({option: value}):
            for _, message in describe_errors(validator.errors, {option: rule}):
                self._error(field, f"{message} (as server.ini option {option})")


def _messages(field: str, errors) -> list[str]:
    lines = []
    for error in errors:
        if isinstance(error, dict):
            for key, nested in error.items():
                lines.extend(_messages(f"{field}.{key}", nested))
        else:
            text = reword(str(error))
            if text.startswith(("expected", "missing", "value", "unknown", "refers")):
                lines.append(f"{field}: {text}")
            elif ": " in text and not text.startswith("must"):
                lines.append(f"{field}.{text}")
            else:
                lines.append(f"{field}: {text}")
    return lines


def validate_role_vars(variables: dict, roles: list[str] | None = None) -> list[str]:
    """Problems with the variables of `roles` (default: every role with a schema).

    `variables` may hold every variable of the host: only names prefixed by a role name are
    checked, and unknown names with a role's prefix are reported (typos do not pass silently).
    """
    all_roles = role_names()
    roles = roles or all_roles
    ids = known_ids(variables)
    problems: list[str] = []
    for role in roles:
        schema = role_schema(role)
        mine = {
            name: value
            for name, value in variables.items()
            if owner_role(name, all_roles) == role and not name.startswith(f"{role}__")
        }
        for name in sorted(set(mine) - set(schema)):
            close = difflib.get_close_matches(name, list(schema), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{name}: unknown variable of role {role}{hint}")
            del mine[name]
        validator = RoleVarsValidator(
            schema, ids=ids, known_ids=ids, variables=variables, allow_unknown=True
        )
        validator.validate(mine)
        for field in sorted(validator.errors):
            problems.extend(_messages(str(field), validator.errors[field]))
    return problems
