"""When transfers run: the daily window of interval scans, and the backoff between retries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

_WINDOW = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")


@dataclass(frozen=True)
class DailyWindow:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        found = _WINDOW.match(text)
        if not found:
            raise ValueError(f"expected a daily window HH:MM-HH:MM like 22:00-06:00, got {text!r}")
        h1, m1, h2, m2 = (int(part) for part in found.groups())
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, moment: datetime) -> bool:
        now = moment.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # crosses midnight


def retry_delay(attempts: int, first: float, cap: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: first, 2x, 4x... <= cap."""
    return min(cap, first * 2 ** max(0, attempts - 1))
