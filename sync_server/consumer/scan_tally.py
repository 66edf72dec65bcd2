"""Each unit scan's place in its code's history, counted inside the transaction that stores it.

The scan writer (sync_server/consumer/scan_writer.py) stores many scans in one transaction. For
every unit code among them this module reads the code's committed history once (scans and
distinct places within ``scans.window_days``, the first scan ever), then walks the new rows in
order, so each scan gets exactly the summary it would have had alone: the n-th scan of a code
says n. The transaction holds the database's write lock (SQLite's ``BEGIN IMMEDIATE``; a
per-code advisory lock on PostgreSQL), so web workers in other processes take turns and no two
scans of a code are given the same place in its history. The office's alerts are raised in the
same transaction, as the sequential rules say: a forged or never-printed code at its first
scan, a suspicious code at the first scan past the limits (one open alert per code).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, insert, select, tuple_

from sync_server.config import ScansConfig
from sync_server.consumer.reports import alert_doubtful_scan
from sync_server.consumer.scans import SUSPICIOUS_SCANS, ScanSummary
from sync_server.consumer.unit_check import FORGED, NEVER_PRINTED
from sync_server.store.alerts import raise_alert
from sync_server.store.db import scans

_COLUMNS = tuple(c.name for c in scans.columns if c.name != "id")
_ROWS_PER_INSERT = 100  # 7 values each: under SQLite's 999 variables before 3.32


@dataclass
class Scan:
    """One scan on its way to the database; a unit scan gets its ``summary`` once stored."""

    row: dict[str, Any]
    device: str | None = None  # the device whose label key verified a unit code
    summary: ScanSummary | None = None

    @property
    def code(self) -> tuple[str, str] | None:
        serial = self.row.get("serial")
        return None if serial is None else (str(self.row["lot"]), str(serial))


@dataclass
class _History:
    count: int
    places: int
    first_at: float | None
    seen: set[str]  # the places it was scanned from within the window


def _among(codes: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """Rows of these codes, found through the scans_code index: SQLite searches the index for
    ``lot IN … AND serial IN …`` but scans all of it for the pair ``(lot, serial) IN …``."""
    return and_(
        scans.c.lot.in_({lot for lot, _ in codes}),
        scans.c.serial.in_({serial for _, serial in codes}),
        tuple_(scans.c.lot, scans.c.serial).in_(codes),
    )


def _histories(
    conn: Connection, units: Sequence[Scan], since: float
) -> dict[tuple[str, str], _History]:
    """The committed history of every code among ``units``, in one query over the scans_code
    index: per code and place, its scans within the window and its first scan ever."""
    codes = sorted({s.code for s in units if s.code is not None})
    found = {code: _History(0, 0, None, set()) for code in codes}
    per_place = (
        select(
            scans.c.lot,
            scans.c.serial,
            scans.c.place,
            func.count(case((scans.c.at >= since, 1))).label("recent"),
            func.min(scans.c.at).label("first"),
        )
        .where(_among(codes))
        .group_by(scans.c.lot, scans.c.serial, scans.c.place)
    )
    rows: Iterable[Sequence[Any]]
    if conn.dialect.name == "sqlite":
        # One row holding them all: SQLite's module lets go of Python's lock for every row it
        # steps to, and a busy web worker makes each step wait up to a switch interval (5 ms)
        # to get it back (docs/benchmarks.md, "Where the time went", unit page, second round).
        sub = per_place.subquery()
        packed = conn.execute(
            select(
                func.json_group_array(
                    func.json_array(
                        sub.c.lot,
                        sub.c.serial,
                        sub.c.place,
                        sub.c.recent,
                        func.printf("%.17g", sub.c.first),  # JSON would round to 15 digits
                    )
                )
            )
        ).scalar_one()
        rows = json.loads(packed)
    else:
        rows = conn.execute(per_place)
    for lot, serial, place, recent, first in rows:
        h = found[(lot, serial)]
        first = float(first)
        h.first_at = first if h.first_at is None else min(h.first_at, first)
        if recent:
            h.count += int(recent)
            h.places += 1
            h.seen.add(place)
    return found


def _insert(conn: Connection, batch: Sequence[Scan]) -> None:
    """Insert the batch's rows; on SQLite as multi-row statements (one step each, not one per
    row: see _histories) written once per size, so neither SQLAlchemy nor SQLite compiles them
    again."""
    if conn.dialect.name != "sqlite":
        conn.execute(insert(scans), [s.row for s in batch])
        return
    for i in range(0, len(batch), _ROWS_PER_INSERT):
        chunk = batch[i : i + _ROWS_PER_INSERT]
        values = tuple(s.row.get(name) for s in chunk for name in _COLUMNS)
        conn.exec_driver_sql(_insert_sql(len(chunk)), values)


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_sql(rows: int) -> str:
    one = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
    return f"INSERT INTO scans ({', '.join(_COLUMNS)}) VALUES {', '.join([one] * rows)}"


def store_scans(conn: Connection, batch: Sequence[Scan], config: ScansConfig) -> None:
    """Insert ``batch`` and give each unit scan its summary (``Scan.summary``); raise alerts."""
    units = [s for s in batch if s.code is not None]
    histories: dict[tuple[str, str], _History] = {}
    if units:
        since = min(float(s.row["at"]) for s in units) - config.window_days * 86400
        if conn.dialect.name == "postgresql":
            # READ COMMITTED lets two workers count the same history: take turns per code, in
            # a fixed order so two batches cannot wait for each other.
            for lot, serial in sorted({s.code for s in units if s.code is not None}):
                conn.execute(
                    select(func.pg_advisory_xact_lock(func.hashtext(f"scan|{lot}|{serial}")))
                )
        histories = _histories(conn, units, since)
    _insert(conn, batch)
    alerted: set[tuple[str, str]] = set()
    for scan in units:
        unit_code = scan.code
        assert unit_code is not None
        code, h = unit_code, histories[unit_code]
        at, place, verdict = float(scan.row["at"]), str(scan.row["place"]), scan.row["verdict"]
        h.count += 1
        if place not in h.seen:
            h.seen.add(place)
            h.places += 1
        h.first_at = at if h.first_at is None else min(h.first_at, at)
        summary = ScanSummary(
            count=h.count,
            places=h.places,
            first_at=h.first_at,
            suspicious=h.count > config.max_scans or h.places > config.max_places,
        )
        scan.summary = summary
        facility = scan.row.get("facility_code")
        if verdict in (FORGED, NEVER_PRINTED):
            # Even once: a code the producer never printed is worth an officer's look.
            alert_doubtful_scan(conn, facility, code[0], code[1], str(verdict), at)
        if summary.suspicious and code not in alerted:
            alerted.add(code)  # one open alert per code: the first scan past the limits
            raise_alert(
                conn,
                scan.device,
                facility,
                SUSPICIOUS_SCANS,
                f"unit code {code[0]}/{code[1]}: {summary.count} scans from {summary.places} "
                f"places in {config.window_days} days (verdict {verdict})",
                subject=f"{code[0]}/{code[1]}",
            )
