"""Trace and recall on a province-sized database (issue 15), on SQLite and on PostgreSQL.

bench/province.py bulk-loads ≥ 300 facilities, ≥ 300,000 lots and ≥ 3,000,000 events into each
database (schema made by the server's migrations). Then, per database, beside a same-run
single-lot lookup (``batches`` by ``public_lot`` through the same connection):

* trace forward of a cooperative's lot received by many facilities (its closure spans three
  tiers of facilities) and trace backward of a tier-2 output lot of that closure, median of N;
* recall of that cooperative's lot as ``ocop server recall`` does it: closure + storing
  ``recall_lots`` + commit (the recall generation changes: every page cache's key is stale);
  then the time until ``ocop server web`` (a real process, over HTTP) serves the affected
  tier-2 lot's consumer batch page with the recall banner;
* the consumer batch page's latency with a recall active (``is_recalled`` traces the page's lot
  backward on every view), for a covered lot and a lot outside the recall, against the same
  page with no recall active. The server's page cache is off so every view renders.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Connection, select

from bench.province import FULL, QUICK, PostgresSink, Province, Sink, Size, SqliteSink, generate
from bench.report import MAX, BenchResult, Figure
from ocop_cli.broker import free_port, wait_for_port
from sync_server.devices.recalled_lots import update_recalled_lots
from sync_server.store.db import batches, facilities, reading
from sync_server.trace.lots import trace_backward, trace_forward
from sync_server.trace.model import OUTPUT
from sync_server.trace.recalls import get_recall, is_recalled, lift, recall
from sync_server.web.recall_state import GENERATION_MAX_AGE_S
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.postgres import PostgresServer, bin_path

GOAL_RECALL_MS = 1000.0
# Another process's recall reaches a web worker when it next reads the recall generation, at
# most GENERATION_MAX_AGE_S later (sync_server/web/recall_state.py).
GOAL_BANNER_MS = GOAL_RECALL_MS  # issue 15: closure and page invalidation under 1 s
BANNER = 'id="recall"'


@dataclass(frozen=True)
class Counts:
    repeats: int  # trace and lookup timings per median
    views: int  # page views per median
    recalls: int  # recall rounds


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@contextmanager
def _postgres() -> Iterator[PostgresServer]:
    initdb, postgres = (
        shutil.which("initdb", path=bin_path()),
        shutil.which("postgres", path=bin_path()),
    )
    if not initdb or not postgres:
        raise RuntimeError("PostgreSQL (initdb, postgres) is not installed: apt install postgresql")
    server = PostgresServer(initdb, postgres)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _server(workdir: Path, name: str, url: str) -> ServerEnv:
    # One address plays the client: the per-network connection cap is off, as behind nginx
    # (bench/web.py). The page cache is on (its default): the recall must get through it.
    http = "connections_per_network = 0\n"
    return make_server(workdir / name, free_port(), database_url=url, http_toml=http)


def _uncached(server: ServerEnv) -> tuple[Path, int]:
    """A second web worker's config: the same database, its page cache off, so every view
    renders (is_recalled runs) and page latency measures the render, not the cache."""
    port = free_port()
    text = server.config_path.read_text(encoding="utf-8")
    text = text.replace("[http]\n", "[http]\npage_cache_s = 0\n", 1)
    text = text.replace(f"port = {server.config.http.port}\n", f"port = {port}\n", 1)
    path = server.config_path.with_name("uncached.toml")
    path.write_text(text, encoding="utf-8")
    return path, port


def _web(procs: Processes, config: Path, port: int) -> None:
    log = config.with_suffix(".log")
    procs.start(["server", "--config", str(config), "web"], log)
    if not wait_for_port(port, 60):
        raise RuntimeError(f"ocop server web did not start; see {log}")


def _load(size: Size, servers: dict[str, ServerEnv], pg_dsn: str) -> tuple[Province, float]:
    """Both databases filled from one pass of the generator; the time it took."""
    # The catalog as the server stored it (make_server imported KC): GTINs of 14 digits.
    with reading(servers["sqlite"].engine) as conn:
        query = select(facilities.c.catalog).where(facilities.c.code == "KC")
        kc = conn.execute(query).scalar_one()
    for server in servers.values():
        server.engine.dispose()  # the loaders write alone
    sqlite = SqliteSink(servers["sqlite"].config.db_url.removeprefix("sqlite:///"))
    pg = PostgresSink(pg_dsn)
    sinks: list[Sink] = [sqlite, pg]
    start = time.perf_counter()
    province = generate(size, sinks, kc)
    sqlite.close()
    pg.close()
    return province, time.perf_counter() - start


@dataclass(frozen=True)
class Lots:
    root: str  # the cooperative's lot recalled
    covered: str  # a tier-2 output lot in its closure
    outside: str  # a tier-2 output lot outside it
    closure: int  # kit lots the recall covers
    facilities: int


def _pick(conn: Connection, province: Province) -> Lots:
    """The most-received cooperative lot, and tier-2 lots inside and outside its closure."""
    (_, root), _ = province.coop_lots.most_common(1)[0]
    found = trace_forward(conn, root)
    outputs = [n for n in found.lots if n.kind == OUTPUT]
    deepest = max(province.tier[n.facility_code] for n in outputs)
    inside = sorted(n.lot for n in outputs if province.tier[n.facility_code] == deepest)
    covered = {n.lot for n in found.lots}
    last = sorted(c for c, t in province.tier.items() if t == 2)
    candidates = conn.execute(
        select(batches.c.public_lot)
        .where(batches.c.facility_code.in_(last), batches.c.public_lot.not_in(covered))
        .order_by(batches.c.public_lot)
        .limit(50)
    ).scalars()
    # Of a few lots outside, the one with the longest history: the page's worst case.
    outside = max(
        list(candidates)[:: max(1, 50 // 10)], key=lambda lot: len(trace_backward(conn, lot).lots)
    )
    return Lots(
        root,
        inside[len(inside) // 2],
        outside,
        len([n for n in found.lots if n.kind != "supplier"]),
        len({n.facility_code for n in outputs}),
    )


class _Pages:
    """The consumer batch pages of one ``ocop server web`` process, over HTTP."""

    def __init__(self, port: int, gtin: str) -> None:
        self.base = f"http://127.0.0.1:{port}/01/{gtin}/10/"
        self.http = requests.Session()

    def get(self, lot: str) -> str:
        response = self.http.get(self.base + lot, timeout=30)
        if response.status_code != 200:
            raise AssertionError(f"trace: batch page of {lot} answered {response.status_code}")
        return response.text

    def median_ms(self, lot: str, views: int) -> float:
        self.get(lot)  # warm
        return _median_ms(lambda: self.get(lot), views)

    def wait(self, lot: str, banner: bool, timeout_s: float = 30.0) -> float:
        """Poll the page until it shows (or no longer shows) the banner; the time it did."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (BANNER in self.get(lot)) == banner:
                return time.perf_counter()
            time.sleep(0.005)
        raise TimeoutError(f"trace: the page of {lot} did not change its banner in {timeout_s}s")


def _measure(
    db: str, server: ServerEnv, province: Province, n: Counts
) -> tuple[list[Figure], dict[str, Any]]:
    engine = server.engine
    procs = Processes()
    try:
        _web(procs, server.config_path, server.config.http.port)
        pages = _Pages(server.config.http.port, province.gtin)
        uncached_config, port = _uncached(server)
        _web(procs, uncached_config, port)
        renders = _Pages(port, province.gtin)
        with reading(engine) as conn:
            lots = _pick(conn, province)
            lookup = select(batches.c.dev_id, batches.c.batch_id).where(
                batches.c.public_lot == lots.covered
            )
            base = _median_ms(lambda: conn.execute(lookup).all(), n.repeats)
            forward = _median_ms(lambda: trace_forward(conn, lots.root), n.repeats)
            backward = _median_ms(lambda: trace_backward(conn, lots.covered), n.repeats)
        if BANNER in pages.get(lots.covered):
            raise AssertionError("trace: the banner shows before any recall")
        page_none = renders.median_ms(lots.covered, n.views)
        outside_none = renders.median_ms(lots.outside, n.views)
        closures, banners, catalogs = [], [], []
        page_covered = page_outside = check_outside = 0.0
        for round_ in range(n.recalls):
            start = time.perf_counter()
            with engine.begin() as conn:
                made = recall(conn, lots.root, "bench: thử thu hồi / recall drill", "bench")
            closures.append((time.perf_counter() - start) * 1000)
            banners.append((pages.wait(lots.covered, True) - start) * 1000)
            start = time.perf_counter()
            update_recalled_lots(engine, server.config.public_base_url)  # as the CLI then does
            catalogs.append((time.perf_counter() - start) * 1000)
            if round_ == 0:
                page_covered = renders.median_ms(lots.covered, n.views)
                page_outside = renders.median_ms(lots.outside, n.views)
                with reading(engine) as conn:
                    check_outside = _median_ms(lambda: is_recalled(conn, lots.outside), n.repeats)
                if BANNER in renders.get(lots.outside):
                    raise AssertionError("trace: a lot outside the recall shows the banner")
            with engine.begin() as conn:
                lift(conn, made.id, "bench: done", "bench")
            pages.wait(lots.covered, False)
        with reading(engine) as conn:
            found = get_recall(conn, made.id)
            stored = len(found.lots) if found else 0
        pages.http.close()
        renders.http.close()
    finally:
        procs.stop_all()
        engine.dispose()
    if stored != lots.closure:
        raise AssertionError(
            f"trace: the recall stored {stored} lots, its closure has {lots.closure}"
        )
    look = "single-lot lookup"
    no_recall = "page, no recall"
    figures = [
        Figure("trace", f"{db}: trace forward ({lots.closure} lots)", forward, "ms", base, look),
        Figure("trace", f"{db}: trace backward (tier-2 lot)", backward, "ms", base, look),
        Figure(
            "trace",
            f"{db}: recall closure + store",
            statistics.median(closures),
            "ms",
            base,
            look,
            GOAL_RECALL_MS,
            MAX,
            f"{lots.closure} lots, {lots.facilities} facilities",
        ),
        Figure(
            "trace",
            f"{db}: recall → banner on page (worst of {len(banners)})",
            max(banners),
            "ms",
            base,
            look,
            GOAL_BANNER_MS,
            MAX,
            f"via ocop server web over HTTP; ≤ {GENERATION_MAX_AGE_S:g} s generation lag",
        ),
        Figure(
            "trace",
            f"{db}: is_recalled, recall active, lot outside",
            check_outside,
            "ms",
            base,
            look,
            note="one backward trace per page view",
        ),
        Figure(
            "trace",
            f"{db}: batch page, recall active, lot outside",
            page_outside,
            "ms",
            outside_none,
            no_recall,
            note="is_recalled traces the lot backward",
        ),
        Figure(
            "trace",
            f"{db}: batch page, recall active, lot covered",
            page_covered,
            "ms",
            page_none,
            no_recall,
        ),
    ]
    details = {
        "lots": lots.__dict__,
        "lookup_ms": base,
        "page_no_recall_ms": {"covered": page_none, "outside": outside_none},
        "recall_closure_ms": closures,
        "recall_banner_ms": banners,
        "catalogs_update_ms": catalogs,
    }
    return figures, details


def run(workdir: Path, *, quick: bool) -> BenchResult:
    size = QUICK if quick else FULL
    n = Counts(5, 5, 1) if quick else Counts(21, 41, 3)
    workdir.mkdir(parents=True, exist_ok=True)
    with _postgres() as pg:
        name = pg.create_database()
        servers = {
            "sqlite": _server(workdir, "sqlite", f"sqlite:///{workdir / 'sqlite' / 'province.db'}"),
            "postgresql": _server(workdir, "postgresql", pg.url(name)),
        }
        province, load_s = _load(size, servers, pg.dsn(name))
        print(f"   province generated in {load_s:.0f} s: {dict(province.counts)}", flush=True)
        figures: list[Figure] = []
        details: dict[str, Any] = {
            "size": size.__dict__,
            "rows": dict(province.counts),
            "generate_s": load_s,
        }
        for db, server in servers.items():
            start = time.perf_counter()
            found, details[db] = _measure(db, server, province, n)
            details[db]["seconds"] = time.perf_counter() - start
            figures += found
    return BenchResult(figures, details)
