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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, insert, select, tuple_

from sync_server.config import ScansConfig
from sync_server.consumer.reports import alert_doubtful_scan
from sync_server.consumer.scans import SUSPICIOUS_SCANS, ScanSummary
from sync_server.consumer.unit_check import FORGED, NEVER_PRINTED
from sync_server.store.alerts import raise_alert
from sync_server.store.db import scans


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
    for lot, serial, place, recent, first in conn.execute(
        select(
            scans.c.lot,
            scans.c.serial,
            scans.c.place,
            func.count(case((scans.c.at >= since, 1))),
            func.min(scans.c.at),
        )
        .where(_among(codes))
        .group_by(scans.c.lot, scans.c.serial, scans.c.place)
    ):
        h = found[(lot, serial)]
        first = float(first)
        h.first_at = first if h.first_at is None else min(h.first_at, first)
        if recent:
            h.count += int(recent)
            h.places += 1
            h.seen.add(place)
    return found


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
    conn.execute(insert(scans), [s.row for s in batch])
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
