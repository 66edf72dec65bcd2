"""How the touchscreen writes times, dates, numbers and catalog names for the worker.

Times are Vietnam time (UTC+7: Vietnam has had no daylight saving since 1975, so a fixed offset
is exact and needs no tz database on the Pi), ``HH:MM`` for today and ``dd/mm/yyyy HH:MM``
otherwise; dates are ``dd/mm/yyyy`` everywhere (issue 13), both through trace_protocol.locales
(issue 14). Names come from the catalog in the screen's language, falling back to the Vietnamese
name the journal kept. Supply units stay codes in the journal (``cai``, ``hu``) and are shown by
their name (``cái``/``pcs``), as the office and consumer pages name them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from flask import Flask

from edge_agent.numbers import format_number
from edge_agent.web.i18n import N_, translate
from trace_protocol.catalog import Catalog
from trace_protocol.locales import format_date, format_datetime

VN_TZ = timezone(timedelta(hours=7), "ICT")

# A supply unit code → its name's message id (trace_protocol.supply.UNITS; a test keeps the two
# in step). The words are those of sync_server/web/describe.py, so a worker and the office read
# the same name.
UNIT_NAMES: dict[str, str] = {
    "kg": N_("unit_kg"),
    "g": N_("unit_g"),
    "tan": N_("unit_tan"),
    "l": N_("unit_l"),
    "ml": N_("unit_ml"),
    "cai": N_("unit_cai"),
    "hop": N_("unit_hop"),
    "chai": N_("unit_chai"),
    "hu": N_("unit_hu"),
    "goi": N_("unit_goi"),
    "qua": N_("unit_qua"),
    "con": N_("unit_con"),
}


def vn_datetime(at: str) -> datetime | None:
    """An event's ``at`` (ISO 8601 with offset) in Vietnam time; None when unreadable."""
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def short_time(at: str, now: datetime | None = None, lang: str = "vi") -> str:
    """``14:05`` for today (in Vietnam), ``04/12/2026 14:05`` for any other day."""
    moment = vn_datetime(at)
    if moment is None:
        return ""
    today = (now or datetime.now(VN_TZ)).astimezone(VN_TZ).date()
    return moment.strftime("%H:%M") if moment.date() == today else format_datetime(moment, lang)


def long_time(at: str, lang: str = "vi") -> str:
    moment = vn_datetime(at)
    return format_datetime(moment, lang) if moment else ""


def vn_date(iso: str | None, lang: str = "vi") -> str:
    """``2026-12-05`` → ``05/12/2026``; anything else unchanged."""
    if not iso:
        return ""
    try:
        return format_date(date.fromisoformat(iso[:10]), lang)
    except ValueError:
        return iso


def product_name(catalog: Catalog | None, code: str, kept: str, lang: str) -> str:
    """The product's name in ``lang`` from the catalog, else the Vietnamese name on record."""
    product = catalog.product(code) if catalog else None
    return product.name.get(lang) if product else kept


def _unit_code(unit: str) -> str | None:
    if unit in UNIT_NAMES:
        return unit
    # A product's own unit is free text in the catalog, usually the Vietnamese name (``hũ``).
    folded = unit.strip().casefold()
    for code, message in UNIT_NAMES.items():
        if folded in (code, translate(message, "vi").casefold()):
            return code
    return None


def unit_name(unit: str | None, lang: str) -> str:
    """A unit as ``lang`` names it: ``cai`` → ``cái`` / ``pcs``, a product's ``hũ`` → ``jars``
    in English; any other unit (``°C``, ``%``, ``túi``) as entered; nothing for none."""
    if not unit:
        return ""
    code = _unit_code(unit)
    return unit if code is None else translate(UNIT_NAMES[code], lang)


def quantity(value: float | None, unit: str | None, lang: str) -> str:
    """``1.500 cái`` (vi) / ``1,500 pcs`` (en): a number and its unit's name."""
    if value is None:
        return ""
    return f"{format_number(value, lang)} {unit_name(unit, lang)}".strip()


def install_display(app: Flask) -> None:
    """Template filters: ``short_time``, ``long_time``, ``vn_date``, ``num``, ``unit``
    (``{{ r.unit | unit(lang) }}``) and ``qty`` (``{{ r.quantity | qty(r.unit, lang) }}``)."""
    app.jinja_env.filters.update(
        short_time=short_time,
        long_time=long_time,
        vn_date=vn_date,
        num=format_number,
        unit=unit_name,
        qty=quantity,
    )
