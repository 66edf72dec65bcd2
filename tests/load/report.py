"""The load test's report: a JSON document (figures, samples over time) and a human table.

Per phase it carries issue 17's two figures: ``committed_over_offered`` (events committed per
second over the phase's target rate) and ``sent_per_committed`` (events the devices published,
resends included, per event the server committed in that phase); over the whole run,
``sent_over_generated``. Their goals are printed with them: at 10x, committed/offered >= 0.9
unless the ingest workers are CPU-bound, and sent/generated <= 1.2.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.load.checker import CheckResult
from tests.load.plan import LoadPlan
from tests.load.stats import Histogram

GOAL_COMMITTED_OVER_OFFERED = 0.9
GOAL_SENT_OVER_GENERATED = 1.2
CPU_BOUND_CORES = 0.9  # an ingest worker using this much of a core is CPU-bound


@dataclass
class Sample:
    """One look at the run: simulators' totals, the server's committed count, each process."""

    t: float  # seconds since the load started
    phase: str
    generated: int
    acked: int
    committed: int
    published: int
    connected: int
    rss_kb: dict[str, int]
    cpu_s: dict[str, float]

    @property
    def backlog(self) -> int:
        """Events recorded but not acknowledged yet, summed over devices (head − acked)."""
        return self.generated - self.acked


@dataclass
class RunData:
    plan: LoadPlan
    ingest_workers: int
    database: str
    samples: list[Sample] = field(default_factory=list)
    sim_results: list[dict[str, Any]] = field(default_factory=list)
    check: CheckResult | None = None
    connected_at_start: int = 0
    setup_s: float = 0.0
    load_s: float = 0.0
    drain_s: float = 0.0
    drained: bool = False
    logs: dict[str, int] = field(default_factory=dict)


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    try:
        mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, timeout=5)
        mosquitto = mosq.stdout.splitlines()[0] if mosq.stdout else ""
    except (OSError, subprocess.TimeoutExpired):
        mosquitto = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem_kb // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mosquitto": mosquitto,
    }


def _merged(results: list[dict[str, Any]], key: str) -> dict[str, Histogram]:
    out: dict[str, Histogram] = {}
    for r in results:
        for phase, obj in r[key].items():
            out.setdefault(phase, Histogram()).merge(Histogram.from_json(obj))
    return out


def _procs(samples: list[Sample], prefix: str) -> list[str]:
    return sorted({p for s in samples for p in s.rss_kb if p.startswith(prefix)})


def _memory(samples: list[Sample], proc: str) -> dict[str, int]:
    vals = [s.rss_kb.get(proc, 0) for s in samples if s.rss_kb.get(proc, 0)]
    if not vals:
        return {}
    out = {"start_kb": vals[0], "peak_kb": max(vals), "end_kb": vals[-1]}
    for phase in dict.fromkeys(s.phase for s in samples):
        ph = [s.rss_kb.get(proc, 0) for s in samples if s.phase == phase and s.rss_kb.get(proc)]
        if ph:
            out[f"{phase}_end_kb"] = ph[-1]
            out[f"{phase}_peak_kb"] = max(ph)
    return out


def _cpu_share(samples: list[Sample], proc: str) -> float:
    """Average share of one core over the samples."""
    if len(samples) < 2 or samples[-1].t <= samples[0].t:
        return 0.0
    # A process that has exited reads 0: take its last reading.
    used = max(s.cpu_s.get(proc, 0.0) for s in samples) - samples[0].cpu_s.get(proc, 0.0)
    return round(used / (samples[-1].t - samples[0].t), 2)


def _phase(
    data: RunData,
    made: dict[str, int],
    name: str,
    seconds: float,
    mult: float,
    lat: dict[str, Histogram],
    lag: dict[str, Histogram],
) -> dict[str, Any]:
    plan = data.plan
    ss = [s for s in data.samples if s.phase == name]
    before = [s for s in data.samples if s.t < (ss[0].t if ss else 0)]
    first = before[-1] if before else (ss[0] if ss else None)
    out: dict[str, Any] = {"name": name, "seconds": round(seconds, 1), "multiplier": mult}
    if mult:
        out["target_events_per_s"] = round(plan.devices * plan.events_per_s * mult, 1)
        out["target_status_per_s"] = round(plan.devices / plan.status_interval_s * mult, 1)
    if ss and first is not None:
        span = max(ss[-1].t - first.t, 1e-9)
        out["generated"] = made.get(name, 0)
        out["committed"] = ss[-1].committed - first.committed
        out["generated_per_s"] = round(out["generated"] / seconds, 1) if seconds else 0.0
        out["committed_per_s"] = round(out["committed"] / span, 1)
        out["published"] = ss[-1].published - first.published
        if out["committed"]:
            out["sent_per_committed"] = round(out["published"] / out["committed"], 3)
        if mult:
            out["committed_over_offered"] = round(
                out["committed_per_s"] / out["target_events_per_s"], 3
            )
        out["max_backlog"] = max(s.backlog for s in ss)
        out["end_backlog"] = ss[-1].backlog
        window = [first, *ss]
        out["cpu_cores"] = {p: _cpu_share(window, p) for p in sorted(ss[-1].cpu_s)}
    if name in lat:
        out["ack_latency"] = lat[name].summary()
    if name in lag:
        out["event_lag"] = lag[name].summary()
    return out


def build(data: RunData, meta: dict[str, Any]) -> dict[str, Any]:
    plan, samples = data.plan, data.samples
    lat = _merged(data.sim_results, "ack_latency")
    lag = _merged(data.sim_results, "event_lag")
    # Events made per phase, exact: the simulators' heads when each phase ended.
    made: dict[str, int] = {}
    ends: dict[str, int] = {}
    for r in data.sim_results:
        for name, head in r["phase_generated"].items():
            ends[name] = ends.get(name, 0) + head
    prev = 0
    for p in plan.phases:
        made[p.name] = ends.get(p.name, prev) - prev
        prev = ends.get(p.name, prev)
    phases = [_phase(data, made, p.name, p.seconds, p.multiplier, lat, lag) for p in plan.phases]
    phases.append(_phase(data, made, "drain", data.drain_s, 0.0, lat, lag))
    counters: dict[str, int] = {}
    for r in data.sim_results:
        for k, v in r["totals"].items():
            if isinstance(v, int) and k not in ("connected", "done"):
                counters[k] = counters.get(k, 0) + v
    all_lat, all_lag = Histogram(), Histogram()
    for h in lat.values():
        all_lat.merge(h)
    for h in lag.values():
        all_lag.merge(h)
    memory = {
        p: _memory(samples, p)
        for p in [*_procs(samples, "ingest"), "broker", *_procs(samples, "sim")]
    }
    ingest = [m for p, m in memory.items() if p.startswith("ingest") and m]
    return {
        "meta": meta,
        "machine": machine(),
        "plan": {
            **asdict(plan),
            "nominal_events_per_s": round(plan.devices * plan.events_per_s, 1),
            "nominal_status_per_s": round(plan.devices / plan.status_interval_s, 1),
        },
        "ingest_workers": data.ingest_workers,
        "database": data.database,
        "connected_at_start": data.connected_at_start,
        "setup_s": round(data.setup_s, 1),
        "load_s": round(data.load_s, 1),
        "drain_s": round(data.drain_s, 1),
        "drained": data.drained,
        "check": data.check.to_json() if data.check else None,
        "counters": counters,
        "logs": data.logs,
        "ack_latency": all_lat.summary(),
        "event_lag": all_lag.summary(),
        "max_backlog": max((s.backlog for s in samples), default=0),
        "sent_over_generated": round(
            counters.get("events_published", 0) / max(1, data.check.generated), 3
        )
        if data.check
        else None,
        "phases": phases,
        "memory": memory,
        "ingest_rss_peak_over_start": round(max(m["peak_kb"] / m["start_kb"] for m in ingest), 3)
        if ingest
        else None,
        "samples": [{**asdict(s), "backlog": s.backlog} for s in samples],
    }


def _mb(kb: int | None) -> str:
    return f"{(kb or 0) / 1024:.0f}"


def print_report(rep: dict[str, Any], out: Callable[[str], None] = print) -> None:
    c = rep["check"] or {}
    plan = rep["plan"]
    out(
        f"load test: {plan['devices']} devices, {rep['ingest_workers']} ingest workers,"
        f" {rep['database']}; load {rep['load_s']}s, drain {rep['drain_s']}s"
        f" ({'complete' if rep['drained'] else 'NOT complete'})"
    )
    out(
        f"nominal: {plan['nominal_events_per_s']} events/s, {plan['nominal_status_per_s']}"
        f" status/s ({plan['events_per_s']:.4f} events/s and one status per"
        f" {plan['status_interval_s']:.0f}s per device)"
    )
    out(
        "phase     x    target ev/s  made ev/s  committed/s  max backlog  ack p50/p95/max s"
        "   committed/offered  sent/committed"
    )
    for p in rep["phases"]:
        a = p.get("ack_latency", {})
        out(
            f"{p['name']:8} {p['multiplier']:4.0f} {p.get('target_events_per_s', 0):11}"
            f" {p.get('generated_per_s', 0):10} {p.get('committed_per_s', 0):12}"
            f" {p.get('max_backlog', 0):12}"
            f"  {a.get('p50_s', 0):5.2f}/{a.get('p95_s', 0):5.2f}/{a.get('max_s', 0):6.2f}"
            f"   {p.get('committed_over_offered', '-'):>17}  {p.get('sent_per_committed', '-'):>14}"
        )
    for line in goal_lines(rep):
        out(line)
    out("process   RSS MB: start  peak  end   per phase (end)")
    for proc, m in rep["memory"].items():
        if not m:
            continue
        per = ", ".join(
            f"{k.removesuffix('_end_kb')} {_mb(v)}" for k, v in m.items() if k.endswith("_end_kb")
        )
        out(
            f"  {proc:8} {_mb(m['start_kb']):>12} {_mb(m['peak_kb']):>5} {_mb(m['end_kb']):>4}"
            f"   {per}"
        )
    cpu = {p["name"]: p.get("cpu_cores", {}) for p in rep["phases"]}
    out(
        "CPU (cores) "
        + "; ".join(
            f"{name}: " + " ".join(f"{k} {v}" for k, v in d.items()) for name, d in cpu.items()
        )
    )
    k = rep["counters"]
    out(
        f"sent: {k.get('events_published', 0)} events in {k.get('chunks', 0)} chunks"
        f" (resends included), {k.get('statuses', 0)} status; acks {k.get('acks', 0)},"
        f" ack timeouts {k.get('ack_timeouts', 0)}, gap resends {k.get('gap_resends', 0)},"
        f" disconnects {k.get('disconnects', 0)}, blocked {k.get('blocked', 0)};"
        f" broker drop lines {rep['logs'].get('broker_drop_lines')}, ingest warnings/errors"
        f" {rep['logs'].get('ingest_error_lines')}"
    )
    out(
        f"check: devices {c.get('devices')}, generated {c.get('generated')}, committed"
        f" {c.get('committed')}, lost {c.get('lost')}, duplicated {c.get('duplicated')},"
        f" forks {c.get('forks')}, gaps {c.get('gaps')}, extra {c.get('extra')}"
    )
    for ex in c.get("examples", []):
        out(f"    {ex}")
    a = rep["ack_latency"]
    out(
        f"ack latency p50 {a['p50_s']}s p95 {a['p95_s']}s max {a['max_s']}s; max backlog"
        f" {rep['max_backlog']} events; ingest RSS peak/start {rep['ingest_rss_peak_over_start']}"
    )


def goal_lines(rep: dict[str, Any]) -> list[str]:
    """Issue 17's goals beside the figures, pass or FAIL with the reason."""
    lines = []
    for p in rep["phases"]:
        ratio = p.get("committed_over_offered")
        if ratio is None or p["multiplier"] <= 1:
            continue
        cores = [v for k, v in p.get("cpu_cores", {}).items() if k.startswith("ingest")]
        bound = bool(cores) and min(cores) >= CPU_BOUND_CORES
        ok = ratio >= GOAL_COMMITTED_OVER_OFFERED or bound
        why = (
            ""
            if ratio >= GOAL_COMMITTED_OVER_OFFERED
            else f" (ingest workers at {'/'.join(str(c) for c in cores)} cores: "
            + ("CPU-bound)" if bound else "not CPU-bound)")
        )
        lines.append(
            f"goal {p['name']}: committed/offered {ratio} >= {GOAL_COMMITTED_OVER_OFFERED}"
            f" or CPU-bound: {'pass' if ok else 'FAIL'}{why}"
        )
    sent = rep.get("sent_over_generated")
    if sent is not None:
        ok = sent <= GOAL_SENT_OVER_GENERATED
        lines.append(
            f"goal: events sent/generated {sent} <= {GOAL_SENT_OVER_GENERATED}:"
            f" {'pass' if ok else 'FAIL'}"
        )
    return lines
