"""An event body as labelled values for the office's journal tables (issue 13: no raw keys).

Bodies are self-describing where it matters: a ``step.recorded`` carries its step's name and its
fields' labels and units, so the office shows "Độ ẩm: 14,2 %" without the catalog of the day.
Keys this table does not know still appear, under their own name, so nothing is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sync_server.web.describe import quantity, unit_name
from sync_server.web.i18n import N_, translate_in, vndate

# Each body key's label, as a message id of the server's catalog (translations/); the table's
# order is the rows' order.
FIELD_LABELS: dict[str, str] = {
    "lot": N_("journal_lot"),
    "product": N_("journal_product"),
    "facility": N_("journal_facility"),
    "production_date": N_("journal_production_date"),
    "expiry_date": N_("journal_expiry_date"),
    "quantity": N_("journal_quantity"),
    "step": N_("journal_step"),
    "note": N_("journal_note"),
    "photos": N_("journal_photos"),
    "kind": N_("journal_kind"),
    "copies": N_("journal_copies"),
    "serials": N_("journal_serials"),
    "printer": N_("journal_printer"),
    "format": N_("journal_format"),
    "reprint_of": N_("journal_reprint_of"),
    "camera": N_("journal_camera"),
    "purpose": N_("journal_purpose"),
    "sha256": N_("journal_sha256"),
    "size": N_("journal_size"),
    "catalog_version": N_("journal_catalog_version"),
    "batch": N_("journal_batch"),
    "corrects": N_("journal_corrects"),
    "reason": N_("journal_reason"),
}
# Values shown in words: a print run's label kind, a photo's purpose.
VALUE_WORDS: dict[str, str] = {
    "unit": N_("journal_kind_unit"),
    "batch": N_("journal_kind_batch"),
    "step": N_("journal_purpose_step"),
    "periodic": N_("journal_purpose_periodic"),
    "manual": N_("journal_purpose_manual"),
}
# Shown through another row (``serials``, ``quantity``, ``step``, ``sha256``), by the "by"
# column, or not useful to a reader (thumbnails, internal ids of the catalog snapshot).
_FOLDED = {
    "by",
    "unit",
    "serial_from",
    "serial_to",
    "name",
    "name_en",
    "values",
    "units",
    "labels",
    "labels_en",
    "thumb_sha256",
    "public_sha256",
    "public_thumb_sha256",
    "width",
    "height",
}
_ORDER = list(FIELD_LABELS)


def _label(key: str, lang: str) -> str:
    message = FIELD_LABELS.get(key)
    return translate_in(lang, message) if message else key


def _word(value: Any, lang: str) -> str:
    message = VALUE_WORDS.get(value) if isinstance(value, str) else None
    return translate_in(lang, message) if message else _text(value)


def _measure(value: Any, unit: Any, lang: str) -> str:
    """A measured value and its unit's name, the number written the language's way (vi
    ``1.200,5 cái``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return quantity(value, unit, lang)
    return f"{_text(value)} {unit_name(unit, lang)}".strip()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def _named(value: Any, lang: str) -> str:
    """A snapshot (product, facility) by its name, with its code."""
    if not isinstance(value, Mapping):
        return _text(value)
    name = value.get("name_en") if lang == "en" and value.get("name_en") else value.get("name")
    code = value.get("code")
    return f"{name} ({code})" if name and code else _text(name or code or dict(value))


def event_fields(body: Any, lang: str = "vi") -> list[tuple[str, str]]:
    """``(label, value)`` rows for one event body, measured values first for a step."""
    if not isinstance(body, Mapping):
        return [("body", _text(body))]
    rows: list[tuple[str, str]] = []
    en = lang == "en"
    values = body.get("values")
    if isinstance(values, Mapping):
        labels = body.get("labels_en" if en else "labels") or body.get("labels") or {}
        units = body.get("units") or {}
        for key, value in values.items():
            label = labels.get(key, key) if isinstance(labels, Mapping) else key
            unit = units.get(key, "") if isinstance(units, Mapping) else ""
            rows.append((str(label), _measure(value, unit, lang)))
    keys = sorted(body, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))
    for key in keys:
        value = body[key]
        if key in _FOLDED or value in (None, "", [], {}):
            continue
        if key == "step":
            name = body.get("name_en") if en and body.get("name_en") else body.get("name")
            shown = f"{name} ({value})" if name else _text(value)
        elif key in ("product", "facility"):
            shown = _named(value, lang)
        elif key in ("production_date", "expiry_date") and isinstance(value, str):
            shown = vndate(value, lang)
        elif key == "quantity":
            shown = _measure(value, body.get("unit"), lang)
        elif key == "corrects" and isinstance(value, Mapping):
            shown = f"#{value.get('seq')} ({value.get('type')})"
        elif key == "photos" and isinstance(value, list):
            shown = str(len(value))
        elif key in ("kind", "purpose"):
            shown = _word(value, lang)
        else:
            shown = _text(value)
        rows.append((_label(key, lang), shown))
    if body.get("serial_from") is not None:
        span = f"{body['serial_from']}–{body.get('serial_to', body['serial_from'])}"
        rows.insert(min(len(rows), 2), (_label("serials", lang), span))
    if body.get("width") and body.get("height"):
        rows.append((_label("size", lang), f"{body['width']} × {body['height']}"))
    return rows
