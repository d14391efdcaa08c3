"""Load the cerberus schemas in schemas/ and validate sections with INI-aware coercion and rules."""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from cerberus import Validator

from appliance.config.model import resolve_path
from appliance.runtime.aaa.passwords import is_password_hash
from appliance.runtime.aaa.permission_rules import PermissionSyntaxError, parse_permissions
from appliance.runtime.aaa.permissions import MatchExpression
from appliance.runtime.events.catalogue import BY_ID
from appliance.runtime.events.filters import parse_targets

TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}


def schema_folder() -> Path:
    """schemas/ of a source checkout, else the copy shipped in the package."""
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if (checkout / "server.yaml").is_file():
        return checkout
    # appliance.schemas has no __init__.py: files() may be a MultiplexedPath, whose str() is
    # not a path; a file inside it is.
    return Path(str(resources.files("appliance.schemas").joinpath("server.yaml"))).parent


@functools.cache
def family_schema(family: str) -> dict:
    """{'options': {...}, 'types': {type: {...}}} as written in schemas/<family>.yaml."""
    with (schema_folder() / f"{family}.yaml").open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream) or {}
    return {"options": document.get("options") or {}, "types": document.get("types") or {}}


def section_schema(family: str, section_type: str | None) -> dict:
    schema = family_schema(family)
    merged = dict(schema["options"])
    if section_type in schema["types"]:
        merged.update(schema["types"][section_type] or {})
    return merged


class IniValidator(Validator):
    """Cerberus with coercers for INI text and rules for what the appliance means by valid.

    Extra context travels in the validator's config: `source` (the file of the section,
    to resolve relative paths) and `known_ids` (family -> ids, for `references`).
    """

    # -- coercers ------------------------------------------------------------
    def _normalize_coerce_ini_boolean(self, value):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"expected yes or no, got {value!r}")

    def _normalize_coerce_ini_integer(self, value):
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None

    def _normalize_coerce_ini_list(self, value):
        if isinstance(value, list):
            return value
        return [item.strip() for item in re.split(r"[,\n]", str(value)) if item.strip()]

    def _normalize_coerce_ini_lines(self, value):
        if isinstance(value, list):
            return value
        return [line.strip() for line in str(value).splitlines() if line.strip()]

    # -- rules ------------------------------------------------------------
    def _validate_references(self, family, field, value):
        """{'type': 'string'}"""
        known = (self._config.get("known_ids") or {}).get(family, set())
        for item in value if isinstance(value, list) else [value]:
            if item not in known:
                choices = ", ".join(sorted(known)) or "none defined"
                self._error(
                    field, f"refers to [{family}/{item}], which does not exist (defined: {choices})"
                )

    def _validate_readable_file(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted or not isinstance(value, str):
            return
        source = self._config.get("source")
        path = resolve_path(Path(source), value) if source else Path(value)
        try:
            exists = path.is_file()
        except OSError as error:  # a folder on the way this user may not enter
            self._error(field, f"file {str(path)!r} cannot be checked: {error.strerror}")
            return
        if not exists:
            self._error(field, f"file {str(path)!r} does not exist; expected a readable file")
        elif not os.access(path, os.R_OK):
            self._error(field, f"file {str(path)!r} is not readable by this user")

    def _validate_compiles_regex(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted:
            try:
                re.compile(value)
            except re.error as error:
                self._error(field, f"regular expression does not compile: {error}")

    def _validate_event_ids(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted:
            return
        try:
            include, exclude = parse_targets(value)
        except ValueError:
            self._error(field, f"expected event ids like 20050 or !20058, got {value!r}")
            return
        for event_id in include + exclude:
            if event_id not in BY_ID:
                self._error(
                    field, f"event id {event_id} is not in the catalogue (see docs/events.md)"
                )

    def _validate_permissions(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted:
            try:
                parse_permissions(value)
            except PermissionSyntaxError as error:
                self._error(field, str(error))

    def _validate_dispatch_rules(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted:
            return
        from appliance.runtime.handlers.dispatch_rules import DispatchRuleError, parse_rule

        for line in value:
            try:
                parse_rule(line)
            except DispatchRuleError as error:
                self._error(field, str(error))

    def _validate_not_supported_yet(self, values, field, value):
        """{'type': 'list'}"""
        if value in values:
            self._error(
                field, f"{field} {value} is not supported yet; expected {self._supported()}"
            )

    def _supported(self) -> str:
        rules = self.schema.get("type") or {}
        later = set(rules.get("not_supported_yet") or ())
        return " or ".join(str(v) for v in rules.get("allowed") or () if v not in later)

    def _validate_ssh_host_key(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted:
            return
        from appliance.runtime.transfers.host_keys import HostKeyError, PinnedHostKey

        try:
            PinnedHostKey.parse(value)
        except HostKeyError as error:
            self._error(field, str(error))

    def _validate_match_expression(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted:
            try:
                MatchExpression(value)
            except PermissionSyntaxError as error:
                self._error(field, str(error))

    def _validate_daily_window(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted:
            return
        from appliance.runtime.transfers.schedule import DailyWindow

        try:
            DailyWindow.parse(value)
        except ValueError as error:
            self._error(field, str(error))

    def _validate_ip_address(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                self._error(field, f"expected an IPv4 or IPv6 address, got {value!r}")

    def _validate_ip_network(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                self._error(field, f"expected an address or network like 10.0.0.0/8, got {value!r}")

    def _validate_port_range(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if not wanted:
            return
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
        if not match:
            self._error(field, f"expected a port range like 60000-60100, got {value!r}")
            return
        first, last = int(match[1]), int(match[2])
        if not (1024 <= first <= last <= 65535):
            self._error(field, f"expected 1024 <= first <= last <= 65535, got {value!r}")

    def _validate_password_hash(self, wanted, field, value):
        """{'type': 'boolean'}"""
        if wanted and not is_password_hash(value):
            self._error(
                field,
                "expected an argon2id or scrypt hash from `appliance account hash`, "
                "never a plaintext password",
            )

    def _validate_url_schemes(self, schemes, field, value):
        """{'type': 'list'}"""
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            self._error(
                field,
                f"expected a URL like {schemes[0]}://host:port "
                f"({' or '.join(schemes)}), got {value!r}",
            )
        else:
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                self._error(field, f"URL {value!r} has an invalid port")


def validate_section(
    family: str, options: dict, *, source: Path, known_ids: dict[str, set[str]]
) -> tuple[dict, list[tuple[str, str]]]:
    """Normalize and validate one section: (typed options, [(option, message)])."""
    types = family_schema(family)["types"]
    section_type = options.get("type")
    if section_type not in types:
        section_type = None  # the `allowed` rule of `type` reports it
    return validate_options(
        section_schema(family, section_type), options, source=source, known_ids=known_ids
    )


def validate_options(
    schema: dict, options: dict, *, source: Path, known_ids: dict[str, set[str]]
) -> tuple[dict, list[tuple[str, str]]]:
    """Normalize and validate options against one schema: (typed options, [(option, message)])."""
    validator = IniValidator(schema, source=str(source), known_ids=known_ids)
    if validator.validate(options):
        return validator.document, []
    return validator.document or {}, describe_errors(validator.errors, schema)


def describe_errors(
    errors: dict, schema: dict, *, unknown: str = "unknown option"
) -> list[tuple[str, str]]:
    """Cerberus errors as (option, sentence) pairs, one per problem, in operator words."""
    problems: list[tuple[str, str]] = []
    coerce_failed: set[str] = set()
    for option, message in _flatten(errors):
        if "cannot be coerced" in message:
            coerce_failed.add(option)
        elif option in coerce_failed and message.startswith("must be of"):
            continue  # the coercion error already says what was expected
        problems.append((option, reword(message, schema, option, unknown=unknown)))
    return problems


def _flatten(errors: dict, prefix: str = "") -> list[tuple[str, str]]:
    flat: list[tuple[str, str]] = []
    for field, messages in errors.items():
        name = prefix or str(field)
        for message in messages:
            if isinstance(message, dict):
                flat.extend(_flatten(message, name))
            else:
                flat.append((name, str(message)))
    return flat


def _unknown_option_message(option: str, schema: dict, unknown: str) -> str:
    close = difflib.get_close_matches(option, list(schema), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{unknown}{hint} (valid here: {', '.join(sorted(schema))})"


_REWORDS = (
    (re.compile(r"^field '[^']*' cannot be coerced: (.*)$"), r"\1"),
    (re.compile(r"^required field$"), "missing required option"),
    (re.compile(r"^must be of (\w+) type$"), r"expected a value of type \1"),
    (re.compile(r"^unallowed value (.*)$"), r"value \1 is not allowed"),
    (re.compile(r"^min value is (.*)$"), r"expected at least \1"),
    (re.compile(r"^max value is (.*)$"), r"expected at most \1"),
    (re.compile(r"^value does not match regex '(.*)'$"), r"expected text matching \1"),
)


def reword(
    message: str, schema: dict | None = None, option: str = "", *, unknown: str = "unknown option"
) -> str:
    """One cerberus message in operator words; `schema` adds the valid names and values."""
    schema = schema or {}
    rules = schema.get(option) or {}
    if message == "unknown field":
        return _unknown_option_message(option, schema, unknown)
    if message.startswith("unallowed value") and rules.get("allowed"):
        allowed = ", ".join(str(value) for value in rules["allowed"])
        value = message.removeprefix("unallowed value ")
        return f"value {value} is not allowed; expected one of: {allowed}"
    for pattern, replacement in _REWORDS:
        if pattern.match(message):
            message = pattern.sub(replacement, message)
    return message
