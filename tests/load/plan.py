"""What the load test asks of each simulated device: rates, phases and sync settings.

The nominal event rate is the peak of docs/deployment.md ("A nation"): every device sends a
day's 135 events within 15 minutes when its link comes back, 135 / 900 s = 0.15 events/s per
device. A day at the average rate (0.0037/s) would give a handful of events per device in a
few minutes; the peak is what the server has to survive. Status every 30 s is the edge default
(`mqtt.status_interval_s`). The overload phase multiplies both rates.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

EVENTS_PER_DEVICE_DAY = 135
BACKLOG_SYNC_S = 15 * 60
NOMINAL_EVENTS_PER_S = EVENTS_PER_DEVICE_DAY / BACKLOG_SYNC_S
NOMINAL_STATUS_INTERVAL_S = 30.0


@dataclass(frozen=True)
class Phase:
    """``seconds`` of load at ``multiplier`` times the nominal rates."""

    name: str
    seconds: float
    multiplier: float


@dataclass(frozen=True)
class LoadPlan:
    devices: int
    phases: list[Phase]
    events_per_s: float = NOMINAL_EVENTS_PER_S
    status_interval_s: float = NOMINAL_STATUS_INTERVAL_S
    # The edge's defaults (edge_agent/config.py), so the simulated sync behaves like a Pi's.
    chunk_size: int = 100
    window_chunks: int = 4
    ack_timeout_s: float = 10.0
    keepalive_s: int = 30
    drain_s: float = 120.0
    connect_s: float = 60.0
    # Device ids and keys derive from these (see device_ids, workload.device_key).
    tag: str = "0"
    seed: str = "ocop-load"
    host: str = "127.0.0.1"
    port: int = 1883

    @property
    def window_events(self) -> int:
        return self.chunk_size * self.window_chunks

    @property
    def load_s(self) -> float:
        return sum(p.seconds for p in self.phases)

    def phase_at(self, elapsed: float) -> Phase | None:
        """The phase running ``elapsed`` seconds after the start; None once all have ended."""
        end = 0.0
        for p in self.phases:
            end += p.seconds
            if elapsed < end:
                return p
        return None

    def phase_start(self, name: str) -> float:
        start = 0.0
        for p in self.phases:
            if p.name == name:
                return start
            start += p.seconds
        raise KeyError(name)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LoadPlan:
        obj = json.loads(path.read_text(encoding="utf-8"))
        obj["phases"] = [Phase(**p) for p in obj["phases"]]
        return cls(**obj)


def device_ids(tag: str, n: int) -> list[str]:
    """Ids unique per run, so a PostgreSQL database can hold several runs side by side."""
    return [f"ld{tag}-{i:05d}" for i in range(1, n + 1)]


def shards(devs: list[str], n: int) -> list[list[str]]:
    return [devs[i::n] for i in range(n)]
