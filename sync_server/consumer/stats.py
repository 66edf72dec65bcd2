"""Daily counts for the office charts: batches opened and consumer scans, per Vietnam day.

Days are calendar days in Vietnam time (UTC+7, no daylight saving), whatever the server's own
timezone:

- a batch counts on its ``production_date``: the facility device's local date when the batch
  was opened (``edge_agent.batches``), which is also the date in its lot code;
- a scan counts on the Vietnam date of its ``at`` (a UNIX time the server recorded).

The window ends today (Vietnam time) and every day in it has a count, zero if nothing happened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, cast, func, select

from sync_server.accounts.scopes import PROVINCE, Scope
from sync_server.store.db import batches, scans

VN_TZ = timezone(timedelta(hours=7), "ICT")
DEFAULT_DAYS = 30
MAX_DAYS = 365
# Scan verdicts a person should look at (sync_server.consumer.unit_check FORGED and NEVER_PRINTED):
# a unit
# code whose signature is wrong, or a genuine one whose serial the device never printed. Codes
# scanned too often or from too many places are judged per code, not per scan: they raise the
# ``suspicious_scans`` alert (sync_server.consumer.scans) instead of a count here.
FLAGGED_VERDICTS = ("forged", "never_printed")
_DAY_S = 86400


@dataclass(frozen=True)
class DailyCounts:
    """Counts per day over ``days`` (oldest first); the lists line up with ``days``."""

    days: tuple[date, ...]
    batches: tuple[int, ...]
    scans: tuple[int, ...]
    flagged: tuple[int, ...]
    facility: str | None

    def rows(self) -> Iterator[tuple[date, int, int, int]]:
        return zip(self.days, self.batches, self.scans, self.flagged, strict=True)

    @property
    def totals(self) -> tuple[int, int, int]:
        return sum(self.batches), sum(self.scans), sum(self.flagged)

    def as_json(self) -> dict[str, Any]:
        return {
            "days": [d.isoformat() for d in self.days],
            "batches": list(self.batches),
            "scans": list(self.scans),
            "flagged": list(self.flagged),
            "facility": self.facility,
        }


def vn_date(ts: float) -> date:
    """The Vietnam calendar date of a UNIX time."""
    return datetime.fromtimestamp(ts, VN_TZ).date()


def vn_midnight(day: date) -> float:
    """The UNIX time at which ``day`` starts in Vietnam."""
    return datetime(day.year, day.month, day.day, tzinfo=VN_TZ).timestamp()


def clamp_days(days: int) -> int:
    return max(1, min(MAX_DAYS, days))


def daily_counts(
    conn: Connection,
    days: int = DEFAULT_DAYS,
    facility: str | None = None,
    now: float | None = None,
    scope: Scope = PROVINCE,
) -> DailyCounts:
    """Batches, scans and flagged scans per Vietnam day over the last ``days`` days (1-365),
    of the facilities in ``scope`` (an office user's districts, issue 16)."""
    days = clamp_days(days)
    last = vn_date(time.time() if now is None else now)
    first = last - timedelta(days=days - 1)
    span = tuple(first + timedelta(days=i) for i in range(days))
    n_batches = _batches_per_day(conn, first, last, facility, scope)
    n_scans, n_flagged = _scans_per_day(conn, first, days, facility, scope)
    return DailyCounts(
        days=span,
        batches=tuple(n_batches.get(d.isoformat(), 0) for d in span),
        scans=tuple(n_scans.get(i, 0) for i in range(days)),
        flagged=tuple(n_flagged.get(i, 0) for i in range(days)),
        facility=facility,
    )


def _batches_per_day(
    conn: Connection, first: date, last: date, facility: str | None, scope: Scope
) -> dict[str, int]:
    # 'YYYY-MM-DD' strings sort like the dates they name.
    day = batches.c.production_date
    q = (
        select(day, func.count())
        .where(
            day >= first.isoformat(),
            day <= last.isoformat(),
            scope.facilities(batches.c.facility_code),
        )
        .group_by(day)
    )
    if facility is not None:
        q = q.where(batches.c.facility_code == facility)
    return {str(d): int(n) for d, n in conn.execute(q).all()}


def _scans_per_day(
    conn: Connection, first: date, days: int, facility: str | None, scope: Scope
) -> tuple[dict[int, int], dict[int, int]]:
    start = vn_midnight(first)
    end = start + days * _DAY_S
    index = _day_index(scans.c.at, start, conn.dialect.name)
    flagged = func.sum(cast(scans.c.verdict.in_(FLAGGED_VERDICTS), Integer))
    q = (
        select(index.label("day"), func.count(), flagged)
        .where(scans.c.at >= start, scans.c.at < end, scope.facilities(scans.c.facility_code))
        .group_by("day")
    )
    if facility is not None:
        q = q.where(scans.c.facility_code == facility)
    total: dict[int, int] = {}
    bad: dict[int, int] = {}
    for i, n, f in conn.execute(q).all():
        total[int(i)] = int(n)
        bad[int(i)] = int(f or 0)
    return total, bad


def _day_index(at: ColumnElement[float], start: float, dialect: str) -> ColumnElement[int]:
    """Whole days between ``start`` and ``at`` (``at >= start``, so truncation is flooring).

    SQLite's CAST truncates and needs no math extension; PostgreSQL's CAST rounds, so it floors.
    """
    offset = (at - start) / float(_DAY_S)
    if dialect == "sqlite":
        return cast(offset, Integer)
    return cast(func.floor(offset), Integer)
