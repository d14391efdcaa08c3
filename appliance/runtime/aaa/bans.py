"""Brute-force protection: failures per address and per account, temporary bans that grow.

Failures from every protocol count together. When a subject (an address, or an account
name) reaches `ban_failures` failures within `ban_window` seconds it is banned for
`ban_duration` seconds, doubled for each further ban of the same subject (capped at a day,
forgotten after a day without bans). Addresses in `ban_allowlist` are neither counted nor
banned. Failures and bans are kept in memory (a restart lifts them). When nodes behind one
load balancer share a store (`[server] shared_state`, see runtime/shared/), each ban is also
recorded there, and a subject banned by any node is refused by every node; failures are
recorded there too, so failures spread over the nodes add up to a ban. Thread-safe.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from appliance.runtime.shared.state import SharedState

MAX_BAN_SECONDS = 86400
FORGET_AFTER = 86400


@dataclass(frozen=True)
class BanSettings:
    failures: int = 5
    window: float = 300
    duration: float = 60
    allowlist: tuple = ()

    @classmethod
    def from_server(cls, options: dict) -> BanSettings:
        return cls(
            failures=options.get("ban_failures", 5),
            window=options.get("ban_window", 300),
            duration=options.get("ban_duration", 60),
            allowlist=tuple(
                ipaddress.ip_network(net, strict=False) for net in options.get("ban_allowlist", [])
            ),
        )


@dataclass
class _Subject:
    failures: deque = field(default_factory=deque)
    banned_until: float | None = None
    level: int = 0
    last_ban: float | None = None


def normal_address(address: str) -> str:
    """One spelling per address: IPv4-mapped IPv6 becomes IPv4, zone ids dropped."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def address_subject(address: str) -> str:
    return f"address {normal_address(address)}"


def account_subject(name: str) -> str:
    return f"account {name}"


class Bans:
    def __init__(
        self,
        emit: Callable[..., None],
        clock: Callable[[], float] = time.monotonic,
        store: Callable[[], SharedState | None] = lambda: None,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._subjects: dict[str, _Subject] = {}
        self._store = store
        """The shared store of the moment (it may change on reload); None: this node only."""

    def allowlisted(self, address: str, settings: BanSettings) -> bool:
        try:
            ip = ipaddress.ip_address(normal_address(address))
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in settings.allowlist)

    def banned_until(self, subject: str, settings: BanSettings) -> datetime | None:
        """The wall-clock end of the subject's ban, or None when it is not banned."""
        now = self._clock()
        self._sweep(now, settings.window)
        with self._lock:
            state = self._subjects.get(subject)
            remaining = (
                None if state is None or state.banned_until is None else (state.banned_until - now)
            )
        if remaining is None:
            shared = self._store()
            return shared.banned_until(subject) if shared is not None else None
        return datetime.now(UTC) + timedelta(seconds=remaining)

    def record_failure(self, address: str, account: str | None, settings: BanSettings) -> None:
        if self.allowlisted(address, settings):
            return
        subjects = [address_subject(address)]
        if account:
            subjects.append(account_subject(account))
        now = self._clock()
        shared = self._store()
        elsewhere = {s: shared.failures_elsewhere(s) for s in subjects} if shared else {}
        bans: list[tuple[str, float, int]] = []
        with self._lock:
            for subject in subjects:
                state = self._subjects.setdefault(subject, _Subject())
                if state.banned_until is not None:
                    continue
                state.failures.append(now)
                while state.failures and state.failures[0] <= now - settings.window:
                    state.failures.popleft()
                if len(state.failures) + elsewhere.get(subject, 0) >= settings.failures:
                    if state.last_ban is None or now - state.last_ban > FORGET_AFTER:
                        state.level = 0
                    duration = min(
                        settings.duration * 2**state.level, max(MAX_BAN_SECONDS, settings.duration)
                    )
                    count = len(state.failures) + elsewhere.get(subject, 0)
                    state.banned_until = now + duration
                    state.level += 1
                    state.last_ban = now
                    state.failures.clear()
                    bans.append((subject, duration, count))
        for subject in subjects if shared is not None else ():
            shared.failure(subject, settings.window)
        for subject, duration, _count in bans if shared is not None else ():
            shared.ban(subject, datetime.now(UTC) + timedelta(seconds=duration))
        for subject, duration, count in bans:
            self._emit(20024, subject=subject, duration=int(duration), failures=count)

    def record_success(self, account: str) -> None:
        """A successful login clears the account's failures (not the address's)."""
        with self._lock:
            state = self._subjects.get(account_subject(account))
            if state is not None:
                state.failures.clear()

    def _sweep(self, now: float, window: float) -> None:
        """Lift expired bans (event 20025) and forget quiet subjects."""
        lifted: list[str] = []
        with self._lock:
            for subject, state in list(self._subjects.items()):
                if state.banned_until is not None and state.banned_until <= now:
                    state.banned_until = None
                    lifted.append(subject)
                while state.failures and state.failures[0] <= now - window:
                    state.failures.popleft()
                if (
                    state.banned_until is None
                    and not state.failures
                    and (state.last_ban is None or now - state.last_ban > FORGET_AFTER)
                ):
                    del self._subjects[subject]
        for subject in lifted:
            self._emit(20025, subject=subject)
