"""Wall-clock time and whether it can be trusted (a Pi has no battery clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# systemd-timesyncd touches this file once the clock has been synchronised since boot.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True)
class Clock:
    """Reads the local time with its UTC offset and says whether NTP has set it."""

    assume_synced: bool = False
    flag: Path = TIMESYNC_FLAG

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def state(self) -> str:
        return "synced" if self.assume_synced or self.flag.exists() else "unsynced"
