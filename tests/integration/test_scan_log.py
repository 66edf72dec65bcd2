"""Issue 17: unit scans logged through the background writer stay exact and survive a restart.

Real ``ocop server web`` processes on one SQLite database, consumers over HTTP. 200 concurrent
scans of one code through two web workers: every scan stored once, and every page's "first
scanned on …" / "scanned N times in M places" exactly what the sequential rules give the n-th
scan (the rows' order in the database), with one office alert. Then the documented durability
(docs/consumer-pages.md, "Scan logging"): a unit scan whose page was answered survives SIGKILL;
batch-code scans still queued are the most a SIGKILL loses; SIGTERM writes them all.
"""

from __future__ import annotations

import re
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, select

from ocop_cli.broker import free_port, wait_for_port
from sync_server.consumer.scans import SUSPICIOUS_SCANS
from sync_server.store.alerts import open_alerts
from sync_server.store.db import scans
from sync_server.vn_time import to_vn
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.unit.server.consumer import DEV, GTIN, LOT, enrol_device, sync_batch, unit_path

SCANS = 200
MAX_SCANS, MAX_PLACES = 100, 3
NETWORKS = [f"203.0.{n}.9" for n in range(5)]  # five places, given by the trusted proxy header
WARNING = re.compile(r"Mã này đã được quét (\d+) lần ở (\d+) nơi, lần đầu ngày (\d\d/\d\d/\d{4})")
FIRST = re.compile(r"Mã này được quét lần đầu ngày (\d\d/\d\d/\d{4})")


def _server(tmp_path: Path) -> ServerEnv:
    server = make_server(
        tmp_path,
        free_port(),  # web workers only: no broker needed
        http_toml="proxy_hops = 1\n",
        extra_toml=f"[scans]\nmax_scans = {MAX_SCANS}\nmax_places = {MAX_PLACES}\n",
    )
    sync_batch(server.engine, enrol_device(server.engine), printed=(1, 10))
    return server


def _web(server: ServerEnv, procs: Processes, port: int, name: str) -> None:
    args = ["server", "--config", str(server.config_path), "web", "--port", str(port)]
    procs.start(args, server.dir / f"{name}.log")
    assert wait_for_port(port, 30), f"ocop server web on {port} did not start"


def _get(port: int, path: str, network: str = "198.51.100.7") -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"X-Forwarded-For": network}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def _rows(engine: Engine, serial: str | None) -> list[tuple[float, str]]:
    same = scans.c.serial.is_(None) if serial is None else scans.c.serial == serial
    with engine.connect() as conn:
        query = select(scans.c.at, scans.c.place).where(scans.c.lot == LOT, same)
        return [(r.at, r.place) for r in conn.execute(query.order_by(scans.c.id))]


def test_200_concurrent_scans_of_one_code_through_two_workers_are_exact(
    tmp_path: Path, procs: Processes
) -> None:
    server = _server(tmp_path)
    ports = [free_port(), free_port()]
    for n, port in enumerate(ports):
        _web(server, procs, port, f"web{n}")
    path = unit_path("5")

    def scan(i: int) -> str:
        return _get(ports[i % 2], path, NETWORKS[i % len(NETWORKS)])

    with ThreadPoolExecutor(max_workers=40) as pool:
        pages = list(pool.map(scan, range(SCANS)))

    rows = _rows(server.engine, "5")
    assert len(rows) == SCANS  # every scan stored, none twice
    # The sequential rules, applied to the scans in the order the database stored them.
    expected_warnings: list[tuple[int, int]] = []
    quiet, places, first_suspicious = 0, set[str](), None
    for n, (_, place) in enumerate(rows, start=1):
        places.add(place)
        if n > MAX_SCANS or len(places) > MAX_PLACES:
            expected_warnings.append((n, len(places)))
            first_suspicious = first_suspicious or (n, len(places))
        else:
            quiet += 1
    first_day = to_vn(min(at for at, _ in rows))
    assert first_day is not None
    day = first_day.strftime("%d/%m/%Y")
    shown: list[tuple[int, int]] = []
    for page in pages:
        warning = WARNING.search(page)
        if warning:
            shown.append((int(warning[1]), int(warning[2])))
            assert warning[3] == day
        else:
            first = FIRST.search(page)
            assert first is not None and first[1] == day
    # Each page told its own scan's place in the history: no count shown twice, none skipped.
    assert sorted(shown) == expected_warnings
    assert SCANS - len(shown) == quiet
    with server.engine.connect() as conn:
        alerts = [a for a in open_alerts(conn) if a["kind"] == SUSPICIOUS_SCANS]
    [alert] = alerts  # one open alert for the code, from the first scan past the limits
    assert alert["dev_id"] == DEV and alert["subject"] == f"{LOT}/5"
    assert first_suspicious is not None
    assert f"{first_suspicious[0]} scans from {first_suspicious[1]} places" in alert["detail"]


def test_answered_unit_scans_survive_sigkill_and_sigterm_writes_the_queue(
    tmp_path: Path, procs: Processes
) -> None:
    server = _server(tmp_path)
    port = free_port()
    _web(server, procs, port, "web")
    for i in range(30):
        _get(port, unit_path(str(i % 10 + 1)), NETWORKS[i % len(NETWORKS)])
    for _ in range(20):
        _get(port, f"/01/{GTIN}/10/{LOT}")
    procs.running[-1].send_signal(signal.SIGKILL)
    procs.running[-1].wait(timeout=10)
    # Every unit page answered had its scan stored: none lost to the kill.
    assert sum(len(_rows(server.engine, str(n))) for n in range(1, 11)) == 30
    # Batch-code scans: at most those still queued are lost (here, all 20 views at the worst).
    kept = len(_rows(server.engine, None))
    assert 0 <= kept <= 20

    _web(server, procs, port, "web-again")
    for _ in range(20):
        _get(port, f"/01/{GTIN}/10/{LOT}")
    procs.running[-1].send_signal(signal.SIGTERM)
    assert procs.running[-1].wait(timeout=30) == 0
    assert len(_rows(server.engine, None)) == kept + 20  # SIGTERM flushed the queue
    assert time.time() - _rows(server.engine, None)[-1][0] < 120
