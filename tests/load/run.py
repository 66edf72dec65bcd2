"""CLI of the national load test: ``python -m tests.load.run [--devices 2000 --minutes 3 …]``.

Starts Mosquitto, ``--ingest-workers`` real ``ocop server ingest`` processes and simulator
processes holding one MQTT connection per device, registers every device's key on the server
database, then runs a nominal phase (``--minutes``) and an overload phase
(``--overload-minutes`` at ``--rate-multiplier`` × the rates), then drains. Samples the
simulators' totals, the server's committed count and every process's RSS and CPU every
``--sample-seconds``. At the end, checks every device's events on the server against what its
simulator generated, writes the JSON report (``--report``) and prints a table. Exit code 0 only
if nothing was lost, duplicated or forked, every device connected and the drain completed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from sqlalchemy.engine import make_url

from ocop_cli.broker import free_port
from tests.load.checker import check, server_rows
from tests.load.cluster import LoadCluster, cpu_s, rss_kb
from tests.load.plan import (
    NOMINAL_EVENTS_PER_S,
    NOMINAL_STATUS_INTERVAL_S,
    LoadPlan,
    Phase,
)
from tests.load.report import RunData, Sample, build, print_report

REPO = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.load.run", description=__doc__)
    p.add_argument("--devices", type=int, default=2000, help="simulated devices (connections)")
    p.add_argument("--minutes", type=float, default=3.0, help="nominal phase")
    p.add_argument("--rate-multiplier", type=float, default=10.0, help="overload phase rate")
    p.add_argument("--overload-minutes", type=float, default=2.0, help="0: no overload phase")
    p.add_argument("--ingest-workers", type=int, default=2)
    p.add_argument("--database-url", default="", help="SQLAlchemy URL; default SQLite in workdir")
    p.add_argument("--simulators", type=int, default=2, help="simulator processes")
    p.add_argument(
        "--events-per-s",
        type=float,
        default=NOMINAL_EVENTS_PER_S,
        help="nominal events per second per device (default: 135 per 15 minutes)",
    )
    p.add_argument(
        "--status-interval",
        type=float,
        default=NOMINAL_STATUS_INTERVAL_S,
        help="nominal seconds between status messages per device",
    )
    p.add_argument("--ack-timeout", type=float, default=10.0, help="the edge's mqtt.ack_timeout_s")
    p.add_argument("--drain-seconds", type=float, default=180.0, help="bound of the drain")
    p.add_argument("--sample-seconds", type=float, default=2.0)
    p.add_argument("--report", type=Path, default=REPO / "build" / "load-report.json")
    p.add_argument("--workdir", type=Path, help="default: a new temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> LoadPlan:
    phases = [Phase("nominal", args.minutes * 60, 1.0)]
    if args.overload_minutes > 0 and args.rate_multiplier > 0:
        phases.append(Phase("overload", args.overload_minutes * 60, args.rate_multiplier))
    return LoadPlan(
        devices=args.devices,
        phases=phases,
        events_per_s=args.events_per_s,
        status_interval_s=args.status_interval,
        ack_timeout_s=args.ack_timeout,
        drain_s=args.drain_seconds,
        tag=secrets.token_hex(2),
        port=free_port(),
    )


def sample(cluster: LoadCluster, t0: float) -> Sample:
    now = time.time()
    phase = cluster.plan.phase_at(now - t0)
    label = "start" if now < t0 else (phase.name if phase else "drain")
    latest = [s.latest for s in cluster.sims]
    pids = cluster.pids()
    return Sample(
        t=round(now - t0, 2),
        phase=label,
        generated=sum(int(x.get("generated", 0)) for x in latest),
        acked=sum(int(x.get("acked", 0)) for x in latest),
        committed=cluster.committed(),
        published=sum(int(x.get("events_published", 0)) for x in latest),
        connected=sum(int(x.get("connected", 0)) for x in latest),
        rss_kb={k: rss_kb(v) for k, v in pids.items()},
        cpu_s={k: round(cpu_s(v), 2) for k, v in pids.items()},
    )


def run(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ocop-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "sqlite"
    )
    data = RunData(plan, args.ingest_workers, database)
    cluster = LoadCluster(workdir, plan, args.ingest_workers, args.simulators, args.database_url)
    ok = False
    try:
        started = time.monotonic()
        cluster.setup_server()
        cluster.start_broker()
        cluster.start_workers()
        cluster.start_simulators()
        data.connected_at_start = cluster.wait_ready()
        data.setup_s = time.monotonic() - started
        print(
            f"setup {data.setup_s:.1f}s: {data.connected_at_start}/{plan.devices} connected;"
            f" work dir {workdir}",
            flush=True,
        )
        t0 = time.time() + 1.0
        data.samples.append(sample(cluster, t0))
        cluster.go(t0)
        deadline = t0 + plan.load_s + plan.drain_s + 60
        next_print = t0
        while time.time() < deadline and not all(s.finished for s in cluster.sims):
            if any(s.proc.poll() is not None and not s.finished for s in cluster.sims):
                print("a simulator exited early; see its log", file=sys.stderr)
                break
            time.sleep(max(0.0, t0 + len(data.samples) * args.sample_seconds - time.time()))
            s = sample(cluster, t0)
            data.samples.append(s)
            if time.time() >= next_print:
                next_print += 15
                ingest = " ".join(
                    f"{k} {v // 1024}MB"
                    for k, v in s.rss_kb.items()
                    if k.startswith(("ingest", "broker"))
                )
                print(
                    f"t={s.t:6.0f}s {s.phase:8} generated {s.generated:7} committed"
                    f" {s.committed:7} backlog {s.backlog:6} connected {s.connected}"
                    f"  {ingest}",
                    flush=True,
                )
        end = time.time()
        data.load_s = min(end - t0, plan.load_s)
        data.drain_s = max(0.0, end - t0 - plan.load_s)
        data.samples.append(sample(cluster, t0))
        data.logs = cluster.log_counts()
        for sim in cluster.sims:
            if sim.out.exists():
                data.sim_results.append(json.loads(sim.out.read_text(encoding="utf-8")))
        data.drained = len(data.sim_results) == len(cluster.sims) and all(
            r["totals"]["done"] == len(r["hashes"]) for r in data.sim_results
        )
        generated = {d: h for r in data.sim_results for d, h in r["hashes"].items()}
        assert cluster.reader is not None
        data.check = check(generated, server_rows(cluster.reader, f"ld{plan.tag}-"))
        report = build(
            data,
            {
                "argv": sys.argv[1:],
                "workdir": str(workdir),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print_report(report)
        print(f"report: {args.report}")
        ok = (
            data.check.ok
            and data.drained
            and data.connected_at_start == plan.devices
            and len(data.sim_results) == len(cluster.sims)
        )
        return 0 if ok else 1
    finally:
        cluster.stop()
        if ok and not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            print(f"work dir kept: {workdir}", file=sys.stderr)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
