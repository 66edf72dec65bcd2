"""Vietnam time: the one clock and the one format every page (public and office) shows.

Every time a person reads is converted to Asia/Ho_Chi_Minh and written ``dd/mm/yyyy HH:MM``
(issue 13: steps showed the device's UTC wall time next to scans in Vietnam time). The zone
comes from the system's tz database (Debian's ``tzdata``) or the PyPI ``tzdata`` package through
:mod:`zoneinfo`; where neither exists it falls back to a fixed UTC+7, which is exact for any
date this kit records: Vietnam has kept UTC+7 with no daylight saving since 1975.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMAT = "%d/%m/%Y %H:%M"
DATE_FORMAT = "%d/%m/%Y"


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


def vn_datetime(value: str | float | datetime | None) -> str:
    """``22/11/2026 14:05`` in Vietnam time; an unreadable string is shown as it is."""
    moment = to_vn(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return moment.strftime(FORMAT)


def vn_date(value: str | float | datetime | None) -> str:
    """``22/11/2026``: a moment's date in Vietnam, or an ISO calendar date as it stands."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).strftime(DATE_FORMAT)
        except ValueError:
            return value
    moment = to_vn(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return moment.strftime(DATE_FORMAT)


def vn_today() -> date:
    """Today in Vietnam: certificate validity and daily counts are judged in local days."""
    return datetime.now(VN_TZ).date()
