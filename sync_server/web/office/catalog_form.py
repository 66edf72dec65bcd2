"""The product form of the office: HTML form fields to a catalog product dict and back.

Field names are flat so the page works without JavaScript: ``steps-2-name_vi``,
``steps-2-fields-0-key``. Rows whose code (or key) is blank are dropped, so the form offers a
few empty rows for new steps and fields. Validation is the catalog's own (parse_catalog).
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

# The product keys this form edits; any other key of a stored product is kept as it is.
MANAGED_KEYS = frozenset(
    (
        "code",
        "name",
        "gtin",
        "ocop_stars",
        "shelf_life_days",
        "unit",
        "certificate",
        "origins",
        "steps",
        # issue 15
        "materials",
        "standards",
        "expected_yield",
        "photo",
    )
)
EXTRA_STEPS = 2
EXTRA_MATERIALS = 2
EXTRA_FIELDS = 2


class FormError(ValueError):
    """A value the form cannot turn into a catalog field; the message names the field."""


def _text(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi.strip(), "en": en.strip()}


def _int(form: MultiDict[str, str], name: str, label: str) -> int:
    raw = form.get(name, "").strip()
    try:
        return int(raw)
    except ValueError:
        raise FormError(f"{label}: a whole number is needed, got {raw!r}") from None


def _opt_float(raw: str, label: str) -> float | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise FormError(f"{label}: a number is needed, got {raw!r}") from None


def _indices(form: MultiDict[str, str], prefix: str) -> list[int]:
    found = set()
    for name in form:
        if name.startswith(prefix):
            head = name[len(prefix) :].split("-", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def product_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    product: dict[str, Any] = {
        "code": form.get("code", "").strip(),
        "name": _text(form.get("name_vi", ""), form.get("name_en", "")),
        "ocop_stars": _int(form, "ocop_stars", "OCOP stars"),
        "shelf_life_days": _int(form, "shelf_life_days", "shelf life (days)"),
        "unit": form.get("unit", "").strip() or "kg",
    }
    gtin = form.get("gtin", "").strip()
    if gtin:
        product["gtin"] = gtin
    decision = form.get("cert_decision", "").strip()
    if decision:
        product["certificate"] = {
            "decision": decision,
            "issued_by": form.get("cert_issued_by", "").strip(),
            "issued_on": form.get("cert_issued_on", "").strip(),
            "valid_until": form.get("cert_valid_until", "").strip(),
        }
    origins = []
    for n, line in enumerate(form.get("origins", "").splitlines(), start=1):
        if not line.strip():
            continue
        material, sep, place = line.partition("|")
        if not sep or not material.strip() or not place.strip():
            raise FormError(f"origins line {n}: write 'material | place'")
        origins.append({"material": material.strip(), "place": place.strip()})
    if origins:
        product["origins"] = origins
    steps = []
    for i in _indices(form, "steps-"):
        p = f"steps-{i}-"
        code = form.get(p + "code", "").strip()
        if not code:
            continue
        fields = []
        for j in _indices(form, p + "fields-"):
            q = f"{p}fields-{j}-"
            key = form.get(q + "key", "").strip()
            if not key:
                continue
            where = f"step {code}, field {key}"
            fields.append(
                {
                    "key": key,
                    "label": _text(form.get(q + "label_vi", ""), form.get(q + "label_en", "")),
                    "unit": form.get(q + "unit", "").strip(),
                    "min": _opt_float(form.get(q + "min", ""), f"{where}: min"),
                    "max": _opt_float(form.get(q + "max", ""), f"{where}: max"),
                }
            )
        steps.append(
            {
                "code": code,
                "name": _text(form.get(p + "name_vi", ""), form.get(p + "name_en", "")),
                "fields": fields,
            }
        )
    product["steps"] = steps
    product.update(_supply_from_form(form))
    return product


def material_rows(form: MultiDict[str, str]) -> list[int]:
    """The form rows of the materials kept (a row with a blank code is dropped)."""
    return [i for i in _indices(form, "materials-") if form.get(f"materials-{i}-code", "").strip()]


def _supply_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """Issue 15's product fields: raw materials, standards, expected yield, photo."""
    out: dict[str, Any] = {}
    materials = [
        {
            "code": form.get(f"materials-{i}-code", "").strip(),
            "name": _text(
                form.get(f"materials-{i}-name_vi", ""), form.get(f"materials-{i}-name_en", "")
            ),
            "unit": form.get(f"materials-{i}-unit", "").strip() or "kg",
        }
        for i in material_rows(form)
    ]
    if materials:
        out["materials"] = materials
    standards = [line.strip() for line in form.get("standards", "").splitlines() if line.strip()]
    if standards:
        out["standards"] = standards
    lo = _opt_float(form.get("yield_min", ""), "expected_yield.min")
    hi = _opt_float(form.get("yield_max", ""), "expected_yield.max")
    if lo is not None or hi is not None:
        # One bound alone stands for both; the contract checks positive and min <= max.
        out["expected_yield"] = {
            "min": lo if lo is not None else hi,
            "max": hi if hi is not None else lo,
        }
    photo = form.get("photo", "").strip()
    if photo:
        out["photo"] = photo
    return out


def _t(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang, "") or "")
    return str(value or "") if lang == "vi" else ""


def _place_text(value: Any) -> str:
    return _t(value, "vi") if isinstance(value, dict) else str(value or "")


def form_from_product(product: dict[str, Any]) -> dict[str, Any]:
    """The values a form shows for a product, with empty rows to add steps and fields."""
    cert = product.get("certificate") or {}
    steps = []
    for s in product.get("steps", []):
        fields = [
            {
                "key": f.get("key", ""),
                "label_vi": _t(f.get("label"), "vi"),
                "label_en": _t(f.get("label"), "en"),
                "unit": f.get("unit", ""),
                "min": "" if f.get("min") is None else f"{f['min']:g}",
                "max": "" if f.get("max") is None else f"{f['max']:g}",
            }
            for f in s.get("fields", [])
        ]
        fields += [dict.fromkeys(("key", "label_vi", "label_en", "unit", "min", "max"), "")] * (
            EXTRA_FIELDS
        )
        steps.append(
            {
                "code": s.get("code", ""),
                "name_vi": _t(s.get("name"), "vi"),
                "name_en": _t(s.get("name"), "en"),
                "fields": fields,
            }
        )
    blank_fields = [dict.fromkeys(("key", "label_vi", "label_en", "unit", "min", "max"), "")]
    steps += [
        {"code": "", "name_vi": "", "name_en": "", "fields": blank_fields * EXTRA_FIELDS}
    ] * EXTRA_STEPS
    return {
        "code": product.get("code", ""),
        "name_vi": _t(product.get("name"), "vi"),
        "name_en": _t(product.get("name"), "en"),
        "gtin": product.get("gtin") or "",
        "ocop_stars": product.get("ocop_stars", 3),
        "shelf_life_days": product.get("shelf_life_days", 365),
        "unit": product.get("unit", "kg"),
        "cert_decision": cert.get("decision", ""),
        "cert_issued_by": cert.get("issued_by", ""),
        "cert_issued_on": cert.get("issued_on", ""),
        "cert_valid_until": cert.get("valid_until", ""),
        "origins": "\n".join(
            f"{_place_text(o.get('material'))} | {_place_text(o.get('place'))}"
            for o in product.get("origins", []) or []
        ),
        "steps": steps,
        **_supply_values(product),
    }


def _supply_values(product: dict[str, Any]) -> dict[str, Any]:
    blank = {"code": "", "name_vi": "", "name_en": "", "unit": "kg"}
    materials = [
        {
            "code": m.get("code", ""),
            "name_vi": _t(m.get("name"), "vi"),
            "name_en": _t(m.get("name"), "en") or str(m.get("name_en") or ""),
            "unit": m.get("unit", "kg"),
        }
        for m in product.get("materials", []) or []
    ]
    expected = product.get("expected_yield") or {}
    return {
        "materials": materials + [dict(blank) for _ in range(EXTRA_MATERIALS)],
        "standards": "\n".join(product.get("standards", []) or []),
        "yield_min": "" if expected.get("min") is None else f"{expected['min']:g}",
        "yield_max": "" if expected.get("max") is None else f"{expected['max']:g}",
        "photo": product.get("photo", ""),
    }
