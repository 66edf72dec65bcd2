"""Vietnam time: the one clock every page (public and office) shows its times in.

Every time a person reads is converted to Asia/Ho_Chi_Minh (issue 13: steps showed the device's
UTC wall time next to scans in Vietnam time); the pages then write it ``dd/MM/yyyy HH:mm`` in
either language (sync_server/web/i18n.py through trace_protocol/locales.py, issue 14). The zone
comes from the system's tz database (Debian's ``tzdata``) or the PyPI ``tzdata`` package through
:mod:`zoneinfo`; where neither exists it falls back to a fixed UTC+7, which is exact for any
date this kit records: Vietnam has kept UTC+7 with no daylight saving since 1975.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _zone() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=7), "ICT")


VN_TZ = _zone()


def to_vn(value: str | float | datetime | None) -> datetime | None:
    """An aware ISO time (a device event's ``at``), a server Unix timestamp or an aware
    datetime, in Vietnam time; None for nothing or something unreadable. A naive ISO time (no
    offset) is taken as UTC: the protocol requires an offset, so this only guards old rows."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, VN_TZ)
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def vn_day(value: str | float | datetime | None) -> date | None:
    """An ISO calendar date (``2026-11-22``) as it stands, else a moment's date in Vietnam; None
    for nothing or something unreadable."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    moment = to_vn(value)
    return None if moment is None else moment.date()


def vn_today() -> date:
    """Today in Vietnam: certificate validity and daily counts are judged in local days."""
    return datetime.now(VN_TZ).date()
