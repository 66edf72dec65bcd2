"""How the server's pages word a quantity's unit and a correction (issue 15 review, items 1, 2, 5).

:func:`unit_name` is the one place a unit is shown: the supply units of
:data:`trace_protocol.supply.UNITS` are codes (``cai``, ``hu``), shown by their name in the page's
language (``cái``/``pcs``); a catalog's own unit written in Vietnamese (a product counted in
``hũ``) is known by that name too; anything else (``°C``, ``%``, ``túi``) is shown as entered.
:func:`change_rows` words what :mod:`sync_server.consumer.corrections` found a correction changed:
a label, the value before and after, written like the rest of the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from sync_server.consumer.corrections import FieldChange
from sync_server.web.i18n import N_, number, page_lang, translate_in, vndate
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se

# A supply unit code → its name's message id (trace_protocol.supply.UNITS; a test keeps the two
# in step). English names are plural: a quantity of one is rare in a lot.
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

# Units of a step's measured values that the catalogs write in Vietnamese (``ngày``): named in
# the page's language too. Symbols (``°C``, ``%``, ``kg``) read the same in both.
MEASURE_UNITS: dict[str, str] = {
    "ngày": N_("unit_days"),
    "giờ": N_("unit_hours"),
    "phút": N_("unit_minutes"),
    "tháng": N_("unit_months"),
    "lần": N_("unit_times"),
}

# A corrected field's label; ``quantity`` says what quantity the corrected event counts.
CHANGE_LABELS: dict[str, str] = {
    "quantity": N_("change_quantity"),
    "received_on": N_("change_received_on"),
    "supplier_lot": N_("change_supplier_lot"),
    "shipped_on": N_("change_shipped_on"),
    "serials": N_("change_serials"),
    "expiry_date": N_("change_expiry_date"),
    "note": N_("change_note"),
}
QUANTITY_LABELS: dict[str, str] = {
    ev.BATCH_CLOSED: N_("change_output"),
    se.INPUT_ADDED: N_("change_used"),
    se.INPUT_RECEIVED: N_("change_received"),
    se.LOT_SHIPPED: N_("change_shipped"),
}
_DATES = frozenset(("received_on", "shipped_on", "expiry_date"))
NO_VALUE = "—"


@dataclass(frozen=True)
class ChangeRow:
    """One changed field as a page shows it."""

    label: str
    before: str
    after: str


def _code_of(unit: str) -> str | None:
    if unit in UNIT_NAMES:
        return unit
    folded = unit.strip().casefold()
    for code, message in UNIT_NAMES.items():
        if folded in (code, translate_in("vi", message).casefold()):
            return code
    return None


def unit_name(unit: object, lang: str | None = None) -> str:
    """A unit as the page's language names it: ``cai`` → ``cái`` (vi) / ``pcs`` (en), the
    catalog's ``hũ`` → ``jars`` in English; an unknown unit as entered; nothing for none."""
    text = unit if isinstance(unit, str) else ""
    code = _code_of(text) if text else None
    if code is not None:
        return translate_in(lang or page_lang(), UNIT_NAMES[code])
    measure = MEASURE_UNITS.get(text.strip().casefold())
    return text if measure is None else translate_in(lang or page_lang(), measure)


def quantity(value: object, unit: object = "", lang: str | None = None) -> str:
    """``1.234,5 cái`` (vi) / ``1,234.5 pcs`` (en): a number and its unit's name."""
    lang = lang or page_lang()
    if isinstance(value, int | float) and not isinstance(value, bool):
        amount = number(value, lang)
    elif value is None:
        return ""
    else:
        amount = str(value)
    return f"{amount} {unit_name(unit, lang)}".strip()


def _value(change: FieldChange, value: Any, lang: str) -> str:
    if value is None or value == "":
        return NO_VALUE
    if change.key in _DATES and isinstance(value, str):
        return vndate(value, lang)
    if change.key == "serials" and isinstance(value, list) and len(value) == 2:
        return f"{value[0]}–{value[1]}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return quantity(value, change.unit, lang)
    return str(value)


def _label(change: FieldChange, lang: str) -> str:
    if change.key.startswith("values."):
        return (change.label_en if lang == "en" else "") or change.label
    if change.key == "quantity" and change.corrects_type in QUANTITY_LABELS:
        return translate_in(lang, QUANTITY_LABELS[change.corrects_type])
    message = CHANGE_LABELS.get(change.key)
    return translate_in(lang, message) if message else change.key


def change_rows(changes: Iterable[FieldChange], lang: str | None = None) -> list[ChangeRow]:
    """What a correction changed, one row per field: its label, before, after."""
    lang = lang or page_lang()
    return [
        ChangeRow(_label(c, lang), _value(c, c.before, lang), _value(c, c.after, lang))
        for c in changes
    ]


def install_describe(app: Flask) -> None:
    app.add_template_filter(unit_name, "unit")
    app.add_template_filter(quantity, "quantity")
    app.add_template_global(change_rows, "change_rows")
