"""The import of nginx's cached batch-page views: lines to rows, a backlog in several
transactions, a truncated log, budgets, and nothing read twice (the nginx test is
tests/integration/test_scan_import.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sync_server.config import ScansConfig
from sync_server.consumer import scan_import
from sync_server.consumer.scan_import import ScanImporter
from sync_server.store.db import scans

KEY = b"k" * 32
LOT = "KC-NM-240301-01"


def _line(i: int, uri: str = f"/l/{LOT}", cache: str = "HIT", status: int = 200) -> str:
    entry = {"t": 1_800_000_000 + i, "uri": uri, "addr": f"203.0.{i % 50}.9"}
    return json.dumps({**entry, "status": status, "cache": cache}) + "\n"


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(scans)).scalar_one())


def test_a_backlog_is_read_in_several_transactions_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_import, "MAX_PASS_BYTES", 500)  # about five lines a transaction
    log = tmp_path / "ocop-scans.log"
    log.write_text("".join(_line(i) for i in range(100)) + _line(100)[:20], encoding="utf-8")
    importer = ScanImporter(engine, log, KEY, ScansConfig(per_network_hour=1000))
    assert importer.run_once() == 100  # the half-written last line waits
    with log.open("a", encoding="utf-8") as f:
        f.write(_line(100)[20:])
    assert importer.run_once() == 1
    assert ScanImporter(engine, log, KEY).run_once() == 0  # a restart reads nothing twice
    assert _count(engine) == 101


def test_only_cached_views_the_app_would_log_become_rows(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "ocop-scans.log"
    lines = [
        _line(1),
        _line(2, cache="MISS"),  # the app logged it
        _line(3, cache="EXPIRED"),
        _line(4, cache="STALE"),
        _line(5, cache="UPDATING"),
        _line(6, uri="/01/08936123450014/10/" + LOT),
        _line(7, uri="/01/123/10/" + LOT, status=404),  # an invalid GTIN: the app logs nothing
        _line(8, uri="/l/" + "X" * 21),  # longer than a lot code
        _line(9, uri="/l/KC-NM-000000-01", status=404),
        _line(10, status=429),
        "not json\n",
    ]
    log.write_text("".join(lines), encoding="utf-8")
    importer = ScanImporter(engine, log, KEY)
    assert importer.run_once() == 5
    with engine.connect() as conn:
        rows = conn.execute(
            select(scans.c.lot, scans.c.gtin, scans.c.verdict, scans.c.facility_code).order_by(
                scans.c.at
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (LOT, None, "batch", "KC"),
        (LOT, None, "batch", "KC"),
        (LOT, None, "batch", "KC"),
        (LOT, "08936123450014", "batch", "KC"),
        ("KC-NM-000000-01", None, "not_found", None),
    ]


def test_a_truncated_log_is_read_from_its_start(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "ocop-scans.log"
    log.write_text("".join(_line(i) for i in range(10)), encoding="utf-8")
    importer = ScanImporter(engine, log, KEY)
    assert importer.run_once() == 10
    log.write_text(_line(20), encoding="utf-8")  # copytruncate, then one new view
    assert importer.run_once() == 1


def test_one_network_is_logged_per_hour_as_often_as_the_app_allows(
    engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ocop-scans.log"
    same = '{"t":1800000000,"uri":"/l/%s","addr":"198.51.100.7","status":200,"cache":"HIT"}\n'
    log.write_text((same % LOT) * 40, encoding="utf-8")
    importer = ScanImporter(engine, log, KEY, ScansConfig(per_network_hour=30))
    assert importer.run_once() == 30 and importer.skipped == 10
