"""The shared-state interface, and the node-local store used when nothing is shared.

Readers (a ban check on every connection, a session check on every request) must never wait
for a network: stores answer from what they hold, and a shared store keeps that up to date
in the background. Times are wall-clock UTC, since they travel between machines.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol


def now() -> datetime:
    return datetime.now(UTC)


class SharedState(Protocol):
    def ban(self, subject: str, until: datetime) -> None:
        """Record that `subject` ("address 192.0.2.7", "account bob") is banned until `until`."""

    def banned_until(self, subject: str) -> datetime | None:
        """The end of the subject's ban, if it is banned (by any node) now."""

    def failure(self, subject: str, window: float) -> None:
        """Record a failed login of `subject`; failures are kept `window` seconds."""

    def failures_elsewhere(self, subject: str) -> int:
        """Recent failures of `subject` that other nodes recorded."""

    def end_session(self, session_id: str, expires: datetime) -> None:
        """Record a logout: the session's token is refused everywhere until it expires."""

    def session_ended(self, session_id: str) -> bool: ...

    def close(self) -> None: ...


class LocalState:
    """Bans and ended sessions in this process only (one node, or nothing configured)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bans: dict[str, datetime] = {}
        self._ended: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}

    def ban(self, subject: str, until: datetime) -> None:
        with self._lock:
            self._bans[subject] = until

    def banned_until(self, subject: str) -> datetime | None:
        with self._lock:
            until = self._bans.get(subject)
            if until is not None and until <= now():
                del self._bans[subject]
                return None
        return until

    def failure(self, subject: str, window: float) -> None:
        """One node alone: its own failures are counted by Bans itself."""

    def failures_elsewhere(self, subject: str) -> int:
        with self._lock:
            return self._failures.get(subject, 0)

    def end_session(self, session_id: str, expires: datetime) -> None:
        with self._lock:
            current = now()
            self._ended = {sid: t for sid, t in self._ended.items() if t > current}
            self._ended[session_id] = expires

    def session_ended(self, session_id: str) -> bool:
        with self._lock:
            expires = self._ended.get(session_id)
        return expires is not None and expires > now()

    def replace(
        self, bans: dict[str, datetime], ended: dict[str, datetime], failures: dict[str, int]
    ) -> None:
        """Take a fresh snapshot (what a shared store read); local writes since are kept."""
        with self._lock:
            self._failures = failures
            self._bans = {**bans, **{s: t for s, t in self._bans.items() if s not in bans}}
            self._ended = {**ended, **self._ended}

    def close(self) -> None:
        pass
