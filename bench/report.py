"""Benchmark figures beside their baselines: the table on stdout and ``bench/results.json``."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import subprocess
from dataclasses import dataclass, field
from typing import Any

MIN, MAX, MIN_RATIO, MAX_RATIO = "min", "max", "min_ratio", "max_ratio"
_GOAL_TEXT = {
    MIN: ">= {goal:,g} {unit}",
    MAX: "<= {goal:,g} {unit}",
    MIN_RATIO: ">= {goal:g}x base",
    MAX_RATIO: "<= {goal:g}x base",
}


@dataclass(frozen=True)
class Figure:
    """One measured value, the baseline measured beside it in the same run, and its goal.

    ``goal_kind`` says how the goal reads: ``min``/``max`` bound the value itself,
    ``min_ratio``/``max_ratio`` bound value / baseline. No goal: reported only.
    """

    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: float | None = None
    goal_kind: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.goal is None:
            return None
        if self.goal_kind in (MIN, MAX):
            measured: float | None = self.value
        else:
            measured = self.ratio
        if measured is None:
            return False
        return (
            measured >= self.goal if self.goal_kind in (MIN, MIN_RATIO) else measured <= self.goal
        )

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return ""
        return _GOAL_TEXT[self.goal_kind].format(goal=self.goal, unit=self.unit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "goal": self.goal,
            "goal_kind": self.goal_kind or None,
            "goal_text": self.goal_text or None,
            "passed": self.passed,
            "note": self.note,
        }


@dataclass
class BenchResult:
    """What one benchmark module hands back: its figures and the raw numbers behind them."""

    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _read(path: str) -> str:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_mb() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _mosquitto_version() -> str:
    from ocop_cli.broker import BrokerError, find_mosquitto

    try:
        out = subprocess.run(
            [find_mosquitto(), "-h"], capture_output=True, text=True, timeout=10, check=False
        )
    except (BrokerError, OSError, subprocess.TimeoutExpired):
        return "not installed"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def machine_info() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_mb": _ram_mb(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mosquitto": _mosquitto_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def _verdict(passed: bool | None) -> str:
    return "" if passed is None else ("pass" if passed else "FAIL")


def table_rows(figures: list[Figure]) -> list[list[str]]:
    return [
        [
            f.bench,
            f.name,
            _num(f.value, f.unit),
            "-" if f.baseline is None else f"{_num(f.baseline, f.unit)} ({f.baseline_name})",
            "-" if f.ratio is None else f"{f.ratio:.2f}x",
            f.goal_text or "-",
            _verdict(f.passed) or "-",
        ]
        for f in figures
    ]


HEADERS = ["bench", "figure", "value", "baseline (same run)", "ratio", "goal", "result"]


def text_table(figures: list[Figure]) -> str:
    rows = [HEADERS, *table_rows(figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    """The same table for docs/benchmarks.md and the README."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(figures)]
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine['nproc']} × {machine['cpu_model']}, {machine['ram_mb'] / 1024:.0f} GB RAM, "
        f"Python {machine['python']}, {machine['mosquitto']}, {machine['date']}"
    )


def build_report(results: dict[str, BenchResult], *, quick: bool) -> dict[str, Any]:
    figures = [f for r in results.values() for f in r.figures]
    verdicts = [f.passed for f in figures if f.passed is not None]
    return {
        "machine": machine_info(),
        "quick": quick,
        "goals_met": all(verdicts),
        "goals": {"passed": sum(1 for v in verdicts if v), "total": len(verdicts)},
        "figures": [f.to_dict() for f in figures],
        "details": {name: {**r.details, "seconds": r.seconds} for name, r in results.items()},
    }


def write_report(report: dict[str, Any], out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
