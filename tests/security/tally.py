"""What a hostile-input driver saw: attempts, refusals, leaks and replies outside the protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

WRITE_MARKER = b"ESCAPE-ATTEMPT-PAYLOAD\n"
Leak = Callable[[bytes], bool]
"""leaked(reply) -> True when a reply shows something from outside the home."""


@dataclass
class Tally:
    protocol: str
    attempts: int = 0
    accepted: int = 0
    refused: int = 0
    disconnects: int = 0
    leaks: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    """Answers that are neither a protocol reply nor a clean disconnect."""

    def saw(self, data: bytes | str, leaked: Leak, what: str) -> None:
        raw = data.encode("latin-1", "replace") if isinstance(data, str) else data
        if leaked(raw):
            self.leaks.append(what)

    def summary(self) -> str:
        return (
            f"{self.protocol}: {self.attempts} attempts, {self.accepted} answered with success "
            f"(inside the home), {self.refused} refused, {self.disconnects} disconnects"
        )
