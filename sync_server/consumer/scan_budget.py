"""How many scans of one code from one network are logged: at most ``per_hour`` an hour.

One phone (or a script) reloading a label page thousands of times would otherwise write a row
per view (issue 12, finding 9: one address logged 37,988 rows in 20 s) and drown the real
scans. The page is still served; only its row is skipped. Counts live in this web process for
the current clock hour and are forgotten at the next, so with several web workers the bound is
per worker. At most ``max_keys`` (network, code) pairs are tracked an hour; past that, new pairs
are not logged until the hour turns (the log is best effort, the process's memory is bounded).
"""

from __future__ import annotations

import threading
import time


class ScanBudget:
    def __init__(self, per_hour: int, max_keys: int = 100_000) -> None:
        self.per_hour = per_hour
        self.max_keys = max_keys
        self.skipped = 0
        self._hour = -1
        self._counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def allow(self, place: str, lot: str, serial: str | None, now: float | None = None) -> bool:
        """True when this scan may be logged (and count it); False past the budget."""
        hour = int((time.time() if now is None else now) // 3600)
        key = (place, lot, serial or "")
        with self._lock:
            if hour != self._hour:
                self._hour, self._counts = hour, {}
            count = self._counts.get(key)
            if count is None and len(self._counts) >= self.max_keys:
                count = self.per_hour  # no room to track it: treat as spent
            if count is not None and count >= self.per_hour:
                self.skipped += 1
                return False
            self._counts[key] = (count or 0) + 1
            return True
