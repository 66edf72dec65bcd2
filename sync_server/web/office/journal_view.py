"""An event body as labelled values for the office's journal tables (issue 13: no raw keys).

Bodies are self-describing where it matters: a ``step.recorded`` carries its step's name and its
fields' labels and units, so the office shows "Độ ẩm: 14.2 %" without the catalog of the day.
Keys this table does not know still appear, under their own name, so nothing is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sync_server.web.i18n import vndate

# Vietnamese first, English on the switch.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "lot": ("Số lô", "Lot"),
    "product": ("Sản phẩm", "Product"),
    "facility": ("Cơ sở", "Facility"),
    "production_date": ("Ngày sản xuất", "Production date"),
    "expiry_date": ("Hạn sử dụng", "Expiry date"),
    "quantity": ("Sản lượng", "Output"),
    "step": ("Công đoạn", "Step"),
    "note": ("Ghi chú", "Note"),
    "photos": ("Ảnh bằng chứng", "Evidence photos"),
    "kind": ("Loại nhãn", "Label kind"),
    "copies": ("Số nhãn", "Labels"),
    "serials": ("Số sê-ri", "Serials"),
    "printer": ("Máy in", "Printer"),
    "format": ("Định dạng", "Format"),
    "reprint_of": ("In lại lần in", "Reprint of run"),
    "camera": ("Camera", "Camera"),
    "purpose": ("Mục đích", "Purpose"),
    "sha256": ("Ảnh (SHA-256)", "Photo (SHA-256)"),
    "size": ("Kích thước", "Size"),
    "catalog_version": ("Phiên bản danh mục", "Catalog version"),
    "batch": ("Mã lô nội bộ", "Batch id"),
    "corrects": ("Sửa sự kiện", "Corrects event"),
    "reason": ("Lý do", "Reason"),
}
VALUE_WORDS: dict[str, tuple[str, str]] = {
    "unit": ("nhãn từng sản phẩm (có sê-ri)", "unit labels (serials)"),
    "batch": ("nhãn lô", "batch labels"),
    "step": ("công đoạn", "step"),
    "periodic": ("định kỳ", "periodic"),
    "manual": ("chụp tay", "manual"),
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
    pair = FIELD_LABELS.get(key)
    return pair[1 if lang == "en" else 0] if pair else key


def _word(value: Any, lang: str) -> str:
    pair = VALUE_WORDS.get(value) if isinstance(value, str) else None
    return pair[1 if lang == "en" else 0] if pair else _text(value)


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
            rows.append((str(label), f"{_text(value)} {unit}".strip()))
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
            shown = vndate(value)
        elif key == "quantity":
            shown = f"{_text(value)} {body.get('unit') or ''}".strip()
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
