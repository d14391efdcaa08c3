"""Dispatch rules: `action, match-expression, destination[, destination...]`, one per line."""

from __future__ import annotations

import string
from dataclasses import dataclass
from types import SimpleNamespace

from appliance.runtime.aaa.permission_rules import PermissionSyntaxError
from appliance.runtime.aaa.permissions import MatchExpression

ACTIONS = ("move", "copy", "move-with-timestamp", "delete", "ignore")
NEEDS_DESTINATION = {"move", "copy", "move-with-timestamp"}


class DispatchRuleError(ValueError):
    pass


@dataclass(frozen=True)
class DispatchRule:
    action: str
    expression: MatchExpression
    destinations: tuple[str, ...]

    def match(self, path: str) -> tuple[str, ...] | None:
        return self.expression.match(path)


def parse_rule(line: str) -> DispatchRule:
    action, _, rest = line.partition(",")
    action = action.strip().lower()
    if action not in ACTIONS:
        raise DispatchRuleError(
            f"rule {line.strip()!r}: unknown action {action!r}; "
            f"expected one of {', '.join(ACTIONS)}"
        )
    expression, destinations = _split_expression(rest.strip())
    if not expression:
        raise DispatchRuleError(f"rule {line.strip()!r} has no match expression")
    if action in NEEDS_DESTINATION and not destinations:
        raise DispatchRuleError(f"rule {line.strip()!r}: action {action} needs a destination")
    if action not in NEEDS_DESTINATION and destinations:
        raise DispatchRuleError(f"rule {line.strip()!r}: action {action} takes no destination")
    for destination in destinations:
        _check_template(destination, line)
    try:
        compiled = MatchExpression(expression)
    except PermissionSyntaxError as error:
        raise DispatchRuleError(f"rule {line.strip()!r}: {error}") from None
    return DispatchRule(action, compiled, destinations)


def _split_expression(text: str) -> tuple[str, tuple[str, ...]]:
    """A regex may contain commas: it runs to the `/` that closes `m/.../`."""
    negated = text.startswith("!")
    body = text[1:] if negated else text
    if body.startswith("m/"):
        end = body.find("/,", 2)
        expression, rest = (body, "") if end < 0 else (body[: end + 1], body[end + 2 :])
    else:
        expression, _, rest = body.partition(",")
    destinations = tuple(part.strip() for part in rest.split(",") if part.strip())
    return ("!" if negated else "") + expression.strip(), destinations


def _check_template(destination: str, line: str) -> None:
    for _, field, _, _ in string.Formatter().parse(destination):
        if field is None:
            continue
        root = field.split(".", 1)[0]
        if not (root.isdigit() or root in {"account", "data"}):
            raise DispatchRuleError(
                f"rule {line.strip()!r}: unknown placeholder {{{field}}}; expected {{1}}, "
                "{account.name} or {data.FIELD}"
            )


def parse_rules(lines: list[str]) -> list[DispatchRule]:
    return [parse_rule(line) for line in lines if line.strip()]


def render_destination(template: str, groups: tuple[str, ...], fields: dict) -> str:
    """Fill `{1}`, `{account.name}`, `{data.file_name}` from the match and the event."""
    values = {
        "account": SimpleNamespace(name=fields.get("account") or ""),
        "data": SimpleNamespace(**fields.get("data", {})),
    }
    try:
        return template.format(*groups, **values)
    except (IndexError, AttributeError, KeyError) as error:
        raise DispatchRuleError(f"destination {template!r} cannot be filled: {error}") from None
