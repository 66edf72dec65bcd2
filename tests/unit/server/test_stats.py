"""Daily counts of the office charts: zero-filled Vietnam days, facility filter, boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert

from sync_server.consumer.scans import BATCH, NOT_FOUND
from sync_server.consumer.stats import MAX_DAYS, daily_counts, vn_date, vn_midnight
from sync_server.consumer.unit_check import FORGED, GENUINE, NEVER_PRINTED, UNVERIFIABLE
from sync_server.store.db import batches, scans

# 22/11/2026 10:00 in Vietnam = 03:00 UTC.
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC).timestamp()
TODAY = date(2026, 11, 22)


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def add_batch(engine: Engine, facility: str, production_date: str, n: int = 1) -> None:
    with engine.begin() as conn:
        for i in range(n):
            conn.execute(
                insert(batches).values(
                    dev_id=f"{facility.lower()}-dev",
                    batch_id=f"{facility}-{production_date}-{i}",
                    lot=f"{facility}-X-{production_date[2:].replace('-', '')}-{i:02d}",
                    facility_code=facility,
                    product_code="X",
                    product={},
                    facility={},
                    production_date=production_date,
                    opened_at=f"{production_date}T08:00:00.000+07:00",
                    status="open",
                )
            )


def add_scan(engine: Engine, at: float, facility: str = "KC", verdict: str = "genuine") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(scans).values(
                at=at,
                lot=f"{facility}-X-261122-01",
                facility_code=facility,
                verdict=verdict,
                place="p",
            )
        )


def counts(engine: Engine, **kwargs: Any) -> Any:
    with engine.connect() as conn:
        return daily_counts(conn, now=NOW, **kwargs)


def test_an_empty_window_is_zero_filled_and_ends_today_in_vietnam(engine: Engine) -> None:
    c = counts(engine)
    assert len(c.days) == 30
    assert c.days[-1] == TODAY
    assert c.days[0] == TODAY - timedelta(days=29)
    assert c.batches == c.scans == c.flagged == (0,) * 30
    assert c.totals == (0, 0, 0)


def test_the_window_is_bounded_to_1_to_365_days(engine: Engine) -> None:
    assert [d for d in counts(engine, days=0).days] == [TODAY]
    assert len(counts(engine, days=-5).days) == 1
    assert len(counts(engine, days=10_000).days) == MAX_DAYS
    assert len(counts(engine, days=7).days) == 7


def test_the_day_changes_at_midnight_vietnam_time_not_utc(engine: Engine) -> None:
    # Vietnam is UTC+7 all year: 17:00 UTC is midnight of the next day there.
    add_scan(engine, _utc(2026, 11, 20, 16, 59, 59))  # 20/11 23:59:59 in Vietnam
    add_scan(engine, _utc(2026, 11, 20, 17, 0, 0))  # 21/11 00:00:00
    add_scan(engine, _utc(2026, 11, 21, 16, 59, 59))  # 21/11 23:59:59
    add_scan(engine, _utc(2026, 11, 21, 23, 0, 0))  # 22/11 06:00: today, before NOW
    add_scan(engine, _utc(2026, 11, 22, 16, 0, 0))  # 22/11 23:00: later today still counts
    add_scan(engine, _utc(2026, 11, 22, 17, 0, 0))  # 23/11: tomorrow, outside the window
    c = counts(engine, days=3)
    assert c.days == (date(2026, 11, 20), date(2026, 11, 21), TODAY)
    assert c.scans == (1, 2, 2)


def test_scans_before_the_first_day_are_left_out(engine: Engine) -> None:
    first = TODAY - timedelta(days=6)
    add_scan(engine, vn_midnight(first) - 1)
    add_scan(engine, vn_midnight(first))
    assert counts(engine, days=7).scans == (1, 0, 0, 0, 0, 0, 0)


def test_batches_count_on_their_production_date_inclusive(engine: Engine) -> None:
    add_batch(engine, "KC", "2026-11-15")  # one day before a 7-day window
    add_batch(engine, "KC", "2026-11-16", n=2)  # first day
    add_batch(engine, "KC", "2026-11-22", n=3)  # today
    add_batch(engine, "KC", "2026-11-23")  # a device clock running ahead: not yet
    assert counts(engine, days=7).batches == (2, 0, 0, 0, 0, 0, 3)


def test_flagged_scans_are_forged_or_never_printed(engine: Engine) -> None:
    at = vn_midnight(TODAY) + 60
    verdicts = (GENUINE, FORGED, NEVER_PRINTED, UNVERIFIABLE, BATCH, NOT_FOUND, NEVER_PRINTED)
    for verdict in verdicts:
        add_scan(engine, at, verdict=verdict)
    c = counts(engine, days=1)
    assert (c.scans, c.flagged) == ((7,), (3,))


def test_one_facility_only(engine: Engine) -> None:
    at = vn_midnight(TODAY) + 60
    add_scan(engine, at, "KC")
    add_scan(engine, at, "CN", verdict="forged")
    add_scan(engine, at, "CN")
    add_batch(engine, "KC", TODAY.isoformat())
    add_batch(engine, "CN", TODAY.isoformat(), n=4)
    kc, cn, both = (counts(engine, days=1, facility=f) for f in ("KC", "CN", None))
    assert (kc.batches, kc.scans, kc.flagged) == ((1,), (1,), (0,))
    assert (cn.batches, cn.scans, cn.flagged) == ((4,), (2,), (1,))
    assert (both.batches, both.scans, both.flagged) == ((5,), (3,), (1,))
    assert cn.facility == "CN"
    assert cn.as_json() == {
        "days": ["2026-11-22"],
        "batches": [4],
        "scans": [2],
        "flagged": [1],
        "facility": "CN",
    }


# The table is emptied at the start of each example, so sharing the engine fixture is safe.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.floats(min_value=NOW - 40 * 86400, max_value=NOW + 86400), max_size=30),
    st.integers(min_value=1, max_value=35),
)
def test_each_scan_in_the_window_lands_on_its_vietnam_day(
    engine: Engine, ats: list[float], days: int
) -> None:
    with engine.begin() as conn:
        conn.execute(delete(scans))
    for at in ats:
        add_scan(engine, at)
    c = counts(engine, days=days)
    expected = {d: 0 for d in c.days}
    for at in ats:
        if vn_date(at) in expected:
            expected[vn_date(at)] += 1
    assert c.scans == tuple(expected.values())
