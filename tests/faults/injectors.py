"""The fault kinds and the seeded scheduler that injects them, overlapping, and heals them.

Each kind picks a free target (an agent process, a link, a clock, a worker, the broker), acts on
it at once and says how long the fault lasts; the scheduler heals it when that time is up. A
target holds one fault at a time; different targets' faults overlap freely.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tests.faults.cluster import Cluster

CLOCK_OFFSETS = ("+3d", "-2h", "+12h", "-1d", "+40d", "-30m")


@dataclass
class Plan:
    """A fault ready to inject: what it holds, how to do and undo it, how long it lasts."""

    targets: tuple[str, ...]
    detail: str
    inject: Callable[[], None]
    heal: Callable[[], None]
    duration: float


Kind = Callable[[Cluster, random.Random, set[str]], Plan | None]


def _free(rng: random.Random, keys: list[str], busy: set[str]) -> str | None:
    free = [k for k in keys if k not in busy]
    return rng.choice(free) if free else None


def agent_kill(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
    """SIGKILL an agent mid-write/mid-sync; restart it on the same journal."""
    agents = {f"proc:{a.dev}": a for a in c.agents}
    key = _free(rng, list(agents), busy)
    if key is None:
        return None
    a = agents[key]
    return Plan(
        (key,), a.dev, lambda: c.kill_agent(a), lambda: c.start_agent(a), rng.uniform(0.2, 2.0)
    )


def worker_kill(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
    """SIGKILL an ingest worker between (or inside) chunk transactions; restart it."""
    workers = {f"worker:{w.name}": w for w in c.workers}
    key = _free(rng, list(workers), busy)
    if key is None:
        return None
    w = workers[key]
    return Plan(
        (key,), w.name, lambda: c.kill_worker(w), lambda: c.start_worker(w), rng.uniform(0.2, 2.0)
    )


def _broker_restart(persistence: bool) -> Kind:
    def kind(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
        if "broker" in busy:
            return None

        def down() -> None:
            if persistence and c.broker is not None:
                c.broker.stop()  # SIGTERM: Mosquitto saves its database
                c.broker = None
            else:
                c.kill_broker()  # SIGKILL: every queued message and retained status is gone

        def up() -> None:
            c.start_broker(persistence=persistence)

        detail = "persistence on, SIGTERM" if persistence else "persistence off, SIGKILL"
        return Plan(("broker",), detail, down, up, rng.uniform(0.2, 1.5))

    kind.__doc__ = "Stop Mosquitto and start it again on the same port."
    return kind


def net_cut(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
    """Cut an agent's link to the broker: live connections die, new ones are refused."""
    agents = {f"link:{a.dev}": a for a in c.agents}
    key = _free(rng, list(agents), busy)
    if key is None:
        return None
    p = agents[key].proxy
    return Plan((key,), agents[key].dev, p.cut, p.heal, rng.uniform(0.5, 5.0))


def slow_subscriber(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
    """SIGSTOP one or all ingest workers so the broker's queue for them overflows."""
    free = [w for w in c.workers if f"worker:{w.name}" not in busy and w.proc is not None]
    if not free:
        return None
    chosen = free if rng.random() < 0.5 else [rng.choice(free)]

    def pause() -> None:
        for w in chosen:
            c.pause_worker(w, True)

    def resume() -> None:
        for w in chosen:
            c.pause_worker(w, False)

    keys = tuple(f"worker:{w.name}" for w in chosen)
    detail = "+".join(w.name for w in chosen)
    return Plan(keys, detail, pause, resume, rng.uniform(2.0, 4.0))


def clock_jump(c: Cluster, rng: random.Random, busy: set[str]) -> Plan | None:
    """Jump an agent's wall clock (libfaketime offset file); jump back to true time to heal."""
    agents = {f"clock:{a.dev}": a for a in c.agents}
    key = _free(rng, list(agents), busy)
    if key is None:
        return None
    a, offset = agents[key], rng.choice(CLOCK_OFFSETS)
    return Plan(
        (key,),
        f"{a.dev} {offset}",
        lambda: c.set_clock(a, offset),
        lambda: c.set_clock(a, "+0"),
        rng.uniform(1.0, 6.0),
    )


def all_kinds(c: Cluster) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {
        "agent-kill": agent_kill,
        "worker-kill": worker_kill,
        "broker-restart-persist": _broker_restart(True),
        "broker-restart-clean": _broker_restart(False),
        "net-cut": net_cut,
        "slow-subscriber": slow_subscriber,
    }
    if c.faketime is not None:
        kinds["clock-jump"] = clock_jump
    return kinds


@dataclass
class KindStats:
    count: int = 0
    durations: list[float] = field(default_factory=list)
    act_s: float = 0.0  # time spent injecting and healing


@dataclass
class Scheduler:
    """Draws kinds from a shuffled deck (so every kind comes up evenly) with a seeded RNG."""

    cluster: Cluster
    rng: random.Random
    journal: TextIO
    kinds: dict[str, Kind] = field(default_factory=dict)
    stats: dict[str, KindStats] = field(default_factory=dict)
    injected: int = 0
    _deck: list[str] = field(default_factory=list)
    _pending: list[tuple[float, int, str, Plan]] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.kinds = self.kinds or all_kinds(self.cluster)
        self.stats = {k: KindStats() for k in self.kinds}

    @property
    def busy(self) -> set[str]:
        return {t for _, _, _, p in self._pending for t in p.targets}

    def _log(self, what: str) -> None:
        self.journal.write(f"{time.monotonic() - self._t0:8.2f} {what}\n")
        self.journal.flush()

    def inject_one(self) -> str | None:
        """Inject the next kind whose target is free; returns its name (None: all busy)."""
        if not self._deck:
            self._deck = list(self.kinds)
            self.rng.shuffle(self._deck)
        for i, name in enumerate(self._deck):
            plan = self.kinds[name](self.cluster, self.rng, self.busy)
            if plan is None:
                continue
            del self._deck[i]
            t = time.monotonic()
            plan.inject()
            st = self.stats[name]
            st.act_s += time.monotonic() - t
            st.count += 1
            st.durations.append(plan.duration)
            self.injected += 1
            heal_at = time.monotonic() + plan.duration
            heapq.heappush(self._pending, (heal_at, self.injected, name, plan))
            self._log(f"inject #{self.injected} {name} {plan.detail} for {plan.duration:.1f}s")
            return name
        return None

    def heal_due(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        while self._pending and self._pending[0][0] <= now:
            _, n, name, plan = heapq.heappop(self._pending)
            t = time.monotonic()
            plan.heal()
            self.stats[name].act_s += time.monotonic() - t
            self._log(f"heal   #{n} {name} {plan.detail}")

    def heal_all(self) -> None:
        self.heal_due(float("inf"))

    def run(self, n_faults: int, keep_going: Callable[[], bool], deadline: float) -> None:
        """Inject a fault every 1-2 s until ``n_faults`` are in and ``keep_going`` says stop."""
        next_at = time.monotonic() + self.rng.uniform(1.0, 2.0)
        while time.monotonic() < deadline and (self.injected < n_faults or keep_going()):
            now = time.monotonic()
            self.heal_due(now)
            if now >= next_at:
                self.inject_one()
                next_at = now + self.rng.uniform(1.0, 2.0)
            time.sleep(min(0.05, max(0.0, next_at - time.monotonic())))
        self.heal_all()


def open_timeline(workdir: Path) -> TextIO:
    return (workdir / "faults.log").open("a", encoding="utf-8")
