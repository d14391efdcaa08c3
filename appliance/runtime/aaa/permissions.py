"""The permission engine: may this account do this operation on this virtual path?

Deny by default. Permissions come in layers: the account's own `permissions` first, then its
groups together. The first layer that says anything about the operation decides.

Inside one layer, the rules whose match expression matches the path decide first; only when
no matching rule names the operation does the global line (the first line) decide. At the
same level, deny wins over allow (across the matching rules, and across groups).

Match expressions are matched against the absolute virtual path ("/Inbox/report.csv"):
case-insensitive globs (`*` also crosses `/`; an expression not starting with `/` or `*` is
anchored at the home folder, so `Inbox/*` means `/Inbox/*`), `m/regex/` (case-insensitive,
searched anywhere in the path), and `!` in front negates. `${USER}` expands to the account
name (escaped, so a name cannot inject glob or regex syntax).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appliance.runtime.aaa.permission_rules import (
    FULL_CONTROL,
    OPERATIONS,
    PermissionText,
    Rule,
    compile_regex,
    parse_permissions,
)

ALLOW, DENY = "allow", "deny"
USER_VARIABLE = "${USER}"


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _compile_rule(rule: Rule, user: str) -> re.Pattern[str]:
    if rule.is_regex:
        return compile_regex(rule.pattern.replace(USER_VARIABLE, re.escape(user)))
    glob = rule.pattern.replace(USER_VARIABLE, _glob_escape(user))
    if not glob.startswith(("/", "*")):
        glob = "/" + glob
    return re.compile(fnmatch.translate(glob), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        if self.rule.is_regex:
            found = self.regex.search(path) is not None
        else:
            found = self.regex.fullmatch(path) is not None
        return found != self.rule.negated


def _verdict(tokens: Iterable[str], operation: str) -> str | None:
    """deny, allow or None for what `tokens` say about `operation`; deny wins."""
    wanted = {f"{DENY}-{operation}", f"{DENY}-{FULL_CONTROL}"}
    tokens = set(tokens)
    if tokens & wanted:
        return DENY
    if tokens & {f"{ALLOW}-{operation}", f"{ALLOW}-{FULL_CONTROL}"}:
        return ALLOW
    return None


class _Layer:
    """One permission text (an account's or a group's), compiled for one user."""

    def __init__(self, source: str, text: PermissionText, user: str) -> None:
        self.source = source
        self.text = text
        self.rules = tuple(_CompiledRule(rule, _compile_rule(rule, user)) for rule in text.rules)

    def verdict(self, operation: str, path: str) -> str | None:
        matching = [token for r in self.rules if r.matches(path) for token in r.rule.tokens]
        return _verdict(matching, operation) or _verdict(self.text.global_tokens, operation)

    def describe(self) -> dict:
        return {
            "source": self.source,
            "global": list(self.text.global_tokens),
            "rules": [
                {"match": r.rule.expression, "permissions": list(r.rule.tokens)} for r in self.rules
            ],
        }


class Permissions:
    """What one account may do, built from its own and its groups' `permissions` lines."""

    def __init__(
        self,
        user: str,
        account_lines: Sequence[str] | None = None,
        group_lines: dict[str, Sequence[str]] | None = None,
    ) -> None:
        self.user = user
        self._account = (
            _Layer("account", parse_permissions(list(account_lines)), user)
            if account_lines
            else None
        )
        self._groups = tuple(
            _Layer(f"groups/{group}", parse_permissions(list(lines)), user)
            for group, lines in (group_lines or {}).items()
            if lines
        )

    def allows(self, operation: str, virtual_path: str) -> bool:
        """True when `operation` (one of permission_rules.OPERATIONS) is allowed on the path."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")
        if self._account is not None:
            verdict = self._account.verdict(operation, virtual_path)
            if verdict is not None:
                return verdict == ALLOW
        verdicts = {layer.verdict(operation, virtual_path) for layer in self._groups}
        if DENY in verdicts:
            return False
        return ALLOW in verdicts

    def effective(self) -> dict:
        """The layers in the order they are consulted, and what they give at the home folder."""
        layers = ([self._account] if self._account else []) + list(self._groups)
        return {
            "layers": [layer.describe() for layer in layers],
            "home_folder": sorted(op for op in OPERATIONS if self.allows(op, "/")),
        }
