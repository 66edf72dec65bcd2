"""What the runner prints: per-kind fault counts and timings, per-device results, the final line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.checker import DeviceReport
from tests.faults.injectors import KindStats

FINAL_RE = re.compile(
    r"^faults: (\d+) injected, events: (\d+), lost: (\d+), duplicated: (\d+), gaps: (\d+)$"
)


@dataclass
class Totals:
    faults: int
    events: int
    lost: int
    duplicated: int
    gaps: int
    forks: int

    def line(self) -> str:
        return (
            f"faults: {self.faults} injected, events: {self.events}, lost: {self.lost},"
            f" duplicated: {self.duplicated}, gaps: {self.gaps}"
        )


def totals(faults: int, reports: list[DeviceReport]) -> Totals:
    return Totals(
        faults=faults,
        events=sum(r.journal for r in reports),
        lost=sum(r.lost for r in reports),
        duplicated=sum(r.duplicated for r in reports),
        gaps=sum(r.gaps for r in reports),
        forks=sum(r.forks for r in reports),
    )


@dataclass
class Timings:
    phases: list[tuple[str, float]] = field(default_factory=list)

    def add(self, name: str, seconds: float) -> None:
        self.phases.append((name, seconds))

    def line(self) -> str:
        total = sum(s for _, s in self.phases)
        parts = ", ".join(f"{n} {s:.1f}s" for n, s in self.phases)
        return f"timings: {parts}; total {total:.1f}s"


def print_kinds(stats: dict[str, KindStats], out: Callable[[str], None] = print) -> None:
    out("fault kind               count  avg dur  max dur  act time")
    for name, st in stats.items():
        avg = sum(st.durations) / len(st.durations) if st.durations else 0.0
        top = max(st.durations, default=0.0)
        out(f"  {name:22} {st.count:5}  {avg:6.2f}s  {top:6.2f}s  {st.act_s:7.2f}s")


def print_devices(reports: list[DeviceReport], out: Callable[[str], None] = print) -> None:
    out("device        journal  server  confirmed  lost  dup  gaps  forks")
    for r in reports:
        out(
            f"  {r.dev:12} {r.journal:7} {r.server:7} {r.confirmed:10} {r.lost:5}"
            f" {r.duplicated:4} {r.gaps:5} {r.forks:6}"
        )
        for ex in r.examples:
            out(f"      {ex}")


def count_in_logs(paths: list[Path], needle: str) -> int:
    """How many log lines mention ``needle`` (resends, broker drops …), for the summary."""
    n = 0
    for p in paths:
        if p.exists():
            with p.open(encoding="utf-8", errors="replace") as f:
                n += sum(1 for line in f if needle in line)
    return n
