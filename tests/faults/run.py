"""CLI of the fault-injection suite: ``python -m tests.faults.run [--faults N --events M …]``.

Starts Mosquitto, ingest workers and edge agents as separate processes, drives the agents'
touchscreen forms, injects faults on a seeded schedule, heals everything, waits for the agents
and the server to converge and checks every device's journal against the server. The last line
printed is ``faults: N injected, events: M, lost: L, duplicated: D, gaps: G``; the exit code is
0 only if L, D, G and forks are 0, convergence finished and both targets were reached.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from ocop_cli.broker import wait_for_port
from sync_server.store.db import devices, reading
from tests.faults.checker import check_all, journal_rows
from tests.faults.cluster import Agent, Cluster
from tests.faults.injectors import Scheduler, open_timeline
from tests.faults.load import AgentLoad, Pacer, start_load
from tests.faults.report import (
    Timings,
    count_in_logs,
    print_devices,
    print_kinds,
    totals,
)
from tests.faults.supply_check import check_supply
from tests.postgres import PostgresServer, bin_path

MEAN_FAULT_INTERVAL_S = 1.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.faults.run", description=__doc__)
    p.add_argument("--faults", type=int, default=200, help="faults to inject, at least")
    p.add_argument("--events", type=int, default=20_000, help="saves to confirm, in total")
    p.add_argument("--ingest-workers", type=int, default=2, help="ingest processes ($share)")
    p.add_argument("--agents", type=int, default=4, help="edge agents (one per device)")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    p.add_argument("--rate", type=float, default=0.0, help="saves/s (0: spread over the faults)")
    p.add_argument("--converge-timeout", type=float, default=180.0, help="seconds, at the end")
    p.add_argument("--max-seconds", type=float, default=400.0, help="bound of the fault phase")
    p.add_argument("--keep", action="store_true", help="keep the run directory on success")
    p.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the server's database; postgresql starts a throwaway cluster (tests/postgres.py)",
    )
    return p.parse_args(argv)


def _server_heads(engine: Engine) -> dict[str, tuple[int, str | None]]:
    with reading(engine) as conn:
        rows = conn.execute(
            select(devices.c.dev_id, devices.c.head_seq, devices.c.blocked_code)
        ).all()
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def converge(cluster: Cluster, engine: Engine, timeout_s: float) -> tuple[bool, str]:
    """Wait until every agent's acked == its head == the server's head for it."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        try:
            heads = _server_heads(engine)
            lagging = []
            for a in cluster.agents:
                head, acked = a.env.head(), a.env.acked()
                server, blocked = heads.get(a.dev, (0, None))
                if blocked:
                    return False, f"{a.dev} is blocked on the server: {blocked}"
                if not head == acked == server:
                    lagging.append(f"{a.dev} head {head} acked {acked} server {server}")
            if not lagging:
                return True, "converged"
            state = "; ".join(lagging)
        except (sqlite3.Error, SQLAlchemyError) as exc:  # a busy database: try again
            state = str(exc)
        time.sleep(0.5)
    return False, f"no convergence after {timeout_s:.0f}s: {state}"


def _url_of(agent: Agent) -> Callable[[], str]:
    return lambda: agent.url


def restart_dead(cluster: Cluster) -> list[str]:
    """Restart processes that died on their own (not by a fault): each one is a finding."""
    dead = []
    for a in cluster.agents:
        if a.proc is not None and a.proc.poll() is not None:
            dead.append(f"{a.dev} exited with {a.proc.returncode}")
            cluster.start_agent(a)
    for w in cluster.workers:
        if w.proc is not None and w.proc.poll() is not None:
            dead.append(f"{w.name} exited with {w.proc.returncode}")
            cluster.start_worker(w)
    return dead


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through main's clean-up: no orphan processes


def _start_postgres() -> PostgresServer:
    """A throwaway PostgreSQL cluster for ``--database postgresql`` (Debian's binaries)."""
    found = [shutil.which(name, path=bin_path()) for name in ("initdb", "postgres")]
    if None in found:
        raise SystemExit("PostgreSQL is not installed (./kit test installs it)")
    server = PostgresServer(str(found[0]), str(found[1]))
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    postgres = _start_postgres() if args.database == "postgresql" else None
    try:
        database_url = postgres.url(postgres.create_database()) if postgres else ""
        return _run(args, database_url)
    finally:
        if postgres is not None:
            postgres.stop()


def _run(args: argparse.Namespace, database_url: str) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ocop-faults-"))
    timings = Timings()
    t0 = time.monotonic()
    cluster = Cluster(workdir, args.agents, args.ingest_workers, database_url=database_url)
    problems: list[str] = []
    try:
        cluster.setup()
        cluster.start_all()
        for a in cluster.agents:
            if not wait_for_port(a.env.ui_port, 30):
                raise RuntimeError(f"agent {a.dev} did not start; see {a.env.dir / 'log'}")
        if cluster.faketime is None:
            print("libfaketime not found: clock-jump faults are disabled")
        timings.add("start", time.monotonic() - t0)

        t1 = time.monotonic()
        rate = args.rate or args.events / (args.faults * MEAN_FAULT_INTERVAL_S) * 1.1
        pacer = Pacer(target=args.events, rate=rate, deadline=t1 + args.max_seconds)
        loads = [AgentLoad(a.dev, _url_of(a)) for a in cluster.agents]
        per_thread = 4 * args.events // max(1, args.agents) + 1000
        threads = start_load(loads, pacer, per_thread)
        with open_timeline(workdir) as timeline:
            sched = Scheduler(cluster, rng, timeline)
            sched.run(args.faults, lambda: not pacer.done(), t1 + args.max_seconds)
        pacer.stop.set()
        for t in threads:
            t.join(timeout=15)
        timings.add("load+faults", time.monotonic() - t1)

        t2 = time.monotonic()
        problems += [f"unexpected exit: {d}" for d in restart_dead(cluster)]
        assert cluster.server is not None
        ok, detail = converge(cluster, cluster.server.engine, args.converge_timeout)
        timings.add("converge", time.monotonic() - t2)
        if not ok:
            problems.append(detail)

        t3 = time.monotonic()
        cluster.stop_all()
        confirmed = [
            {f"note:{n}" for n in ld.confirmed_notes}
            | {f"batch:{b}" for b in ld.confirmed_batches}
            | {f"receipt:{lot}" for lot in ld.supply.receipt_lots}
            for ld in loads
        ]
        reports = check_all(
            [(a.dev, a.journal, c) for a, c in zip(cluster.agents, confirmed, strict=True)],
            cluster.server.engine,
        )
        supply, mismatches = check_supply(
            cluster.server.engine, {a.dev: journal_rows(a.journal) for a in cluster.agents}
        )
        problems += [f"supply projection: {m}" for m in mismatches[:10]]
        problems += [f"no {kind} in the journals" for kind, n in supply.items() if n == 0]
        timings.add("check", time.monotonic() - t3)
    except BaseException:
        cluster.stop_all()
        print(f"run aborted; logs kept in {workdir}", file=sys.stderr)
        raise

    logs = [workdir / "broker" / "mosquitto.log"]
    agent_logs = [a.env.dir / "log" for a in cluster.agents]
    print_kinds(sched.stats)
    print(timings.line())
    print(
        f"load: {pacer.confirmed} saves confirmed of {sum(ld.attempts for ld in loads)}"
        f" attempts ({sum(ld.failures for ld in loads)} failed, retried) at {rate:.0f}/s target;"
        f" agent starts {sum(a.starts for a in cluster.agents)},"
        f" worker starts {sum(w.starts for w in cluster.workers)},"
        f" broker starts {cluster.broker_starts}"
    )
    print(
        f"protocol: {count_in_logs(agent_logs, 'acks stalled')} ack-stall resends,"
        f" {count_in_logs(agent_logs, 'connected to')} agent connects,"
        f" {count_in_logs(logs, 'being dropped')} broker queue-overflow drop notices"
    )
    print(
        "supply: "
        + ", ".join(f"{n} {kind}" for kind, n in supply.items())
        + f" in the journals; {len(mismatches)} projection mismatches"
    )
    print_devices(reports)
    tot = totals(sched.injected, reports)
    if tot.forks:
        problems.append(f"{tot.forks} forks")
    if sched.injected < args.faults:
        problems.append(f"only {sched.injected} of {args.faults} faults injected")
    if pacer.confirmed < args.events:
        problems.append(f"only {pacer.confirmed} of {args.events} saves confirmed")
    failed = bool(problems or tot.lost or tot.duplicated or tot.gaps)
    for p in problems:
        print(f"FAIL: {p}")
    if failed:
        print(f"logs kept in {workdir}")
    elif not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}")
    print(tot.line())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
