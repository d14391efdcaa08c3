"""The text form of permissions: tokens and `match-expression, permission...` lines.

    permissions = allow-list, allow-read
        /Inbox/*, allow-write, allow-create-folder
        m/\\.exe$/, deny-write
        !*.csv, deny-read

The first line holds the global permissions; each further line is a rule. Expressions are
case-insensitive globs, `m/regex/` for regular expressions, `!` in front negates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPERATIONS = (
    "list",
    "read",
    "write",
    "rename",
    "delete-file",
    "create-folder",
    "delete-folder",
    "set-attributes",
)
FULL_CONTROL = "full-control"
TOKENS = frozenset(
    f"{effect}-{operation}"
    for effect in ("allow", "deny")
    for operation in (*OPERATIONS, FULL_CONTROL)
)


class PermissionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    expression: str
    tokens: tuple[str, ...]

    @property
    def negated(self) -> bool:
        return self.expression.startswith("!")

    @property
    def pattern(self) -> str:
        return self.expression[1:] if self.negated else self.expression

    @property
    def is_regex(self) -> bool:
        return self.pattern.startswith("m/")


@dataclass(frozen=True)
class PermissionText:
    global_tokens: tuple[str, ...]
    rules: tuple[Rule, ...]


def parse_tokens(text: str) -> tuple[str, ...]:
    tokens = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for token in tokens:
        if token not in TOKENS:
            raise PermissionSyntaxError(
                f"unknown permission {token!r}; expected allow-<operation> or deny-<operation> "
                f"with an operation among {', '.join((*OPERATIONS, FULL_CONTROL))}"
            )
    return tokens


def parse_rule(line: str) -> Rule:
    parts = line.split(",")
    tokens: list[str] = []
    while len(parts) > 1 and parts[-1].strip().lower() in TOKENS:
        tokens.insert(0, parts.pop().strip().lower())
    expression = ",".join(parts).strip()
    if not tokens:
        raise PermissionSyntaxError(
            f"rule {line.strip()!r} has no valid permission; expected "
            "'match-expression, allow-<operation>[, ...]'"
        )
    if not expression or expression == "!":
        raise PermissionSyntaxError(f"rule {line.strip()!r} has no match expression")
    rule = Rule(expression, tuple(tokens))
    if rule.is_regex:
        compile_regex(rule.pattern)
    return rule


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile `m/regex/` (case-insensitive); PermissionSyntaxError explains a bad one."""
    if not (pattern.startswith("m/") and pattern.endswith("/") and len(pattern) > 3):
        raise PermissionSyntaxError(f"regular expression {pattern!r} must be written m/.../")
    try:
        return re.compile(pattern[2:-1], re.IGNORECASE)
    except re.error as error:
        raise PermissionSyntaxError(
            f"regular expression {pattern!r} does not compile: {error}"
        ) from None


def parse_permissions(lines: list[str]) -> PermissionText:
    """Parse the lines of a `permissions` option (first line global, then rules)."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return PermissionText((), ())
    return PermissionText(parse_tokens(lines[0]), tuple(parse_rule(line) for line in lines[1:]))
