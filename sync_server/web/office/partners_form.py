"""The office's supplier and customer forms (issue 15): flat HTML fields to catalog entries and
back, and a validation message placed next to the field it is about.

Field names are flat so the page works without JavaScript: ``suppliers-2-name``,
``customers-0-phone``. A row whose id and name are both blank is dropped, so the form offers a
few empty rows for new entries. Validation is the contract's own (``trace_protocol.supply``).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from sync_server.web.i18n import N_
from trace_protocol.supply import parse_customers, parse_suppliers

EXTRA_ROWS = 3
SUPPLIER_FIELDS = (
    "id",
    "name",
    "kind",
    "commune",
    "district",
    "province",
    "facility",
    "cert_scheme",
    "cert_code",
    "cert_valid_until",
    "public_name",
)
CUSTOMER_FIELDS = ("id", "name", "kind", "address", "phone")
# Run-time ids (t('supplier_kind_' ~ kind), t('customer_kind_' ~ kind)) for the catalogs.
KIND_IDS = (
    N_("supplier_kind_farmer"),
    N_("supplier_kind_group"),
    N_("supplier_kind_coop"),
    N_("supplier_kind_company"),
    N_("supplier_kind_facility"),
    N_("customer_kind_shop"),
    N_("customer_kind_distributor"),
    N_("customer_kind_market"),
    N_("customer_kind_company"),
    N_("customer_kind_facility"),
    N_("customer_kind_other"),
)
# What a contract message says → the message id shown next to the field.
_REASONS = (
    ("an id is", N_("err_id")),
    ("expected text", N_("err_text")),
    ("must be one of", N_("err_choice")),
    ("must be a date", N_("err_date")),
    ("must be a positive number", N_("err_positive")),
    ("a number is needed", N_("err_positive")),
    ("must not be below min", N_("err_yield_order")),
    ("must be unique", N_("err_unique")),
    ("names its code", N_("err_facility_code")),
    ("sha256", N_("err_photo")),
    ("JPEG", N_("err_photo")),
    ("kB", N_("err_photo_size")),
)
_PATH = re.compile(
    r"^(?:catalog: )?(?:products\[\d+\]\.)?"  # registry prefix, the product's place
    r"(\w+)(?:\[(\d+)\])?(?:\.(\w+))?(?:\.(\w+))?:"  # key[index].attr.sub:
)


def reason_id(message: str) -> str:
    """The translated reason for a validation message (the raw message is shown beside it)."""
    return next((rid for needle, rid in _REASONS if needle in message), N_("err_invalid"))


def field_of(message: str, rows: list[int]) -> str:
    """The form field a contract message names: ``suppliers[1].name`` → ``suppliers-{row}-name``
    where ``rows[1]`` is the form row of the second kept entry."""
    found = _PATH.match(message)
    if not found:
        return ""
    key, index, attr, sub = found.groups()
    if key == "standards":
        return key
    if index is None:
        return {"expected_yield": f"yield_{attr}" if attr else "yield_min"}.get(key, key)
    row = rows[int(index)] if int(index) < len(rows) else int(index)
    if attr == "certification":
        attr = f"cert_{sub or 'scheme'}"
    return f"{key}-{row}-{attr or 'id'}"


def _rows(form: MultiDict[str, str], key: str) -> list[int]:
    found = set()
    for name in form:
        head, _, rest = name.partition("-")
        if head == key and rest.split("-", 1)[0].isdigit():
            found.add(int(rest.split("-", 1)[0]))
    return sorted(found)


def suppliers_from_form(form: MultiDict[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    """The suppliers posted, and the form row of each (for placing messages)."""
    out: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in _rows(form, "suppliers"):
        v = {f: form.get(f"suppliers-{i}-{f}", "").strip() for f in SUPPLIER_FIELDS}
        if not v["id"] and not v["name"]:
            continue
        item: dict[str, Any] = {
            "id": v["id"],
            "name": v["name"],
            "kind": v["kind"],
            "public_name": bool(v["public_name"]),
        }
        item.update({k: v[k] for k in ("commune", "district", "province", "facility") if v[k]})
        if v["cert_scheme"] or v["cert_code"] or v["cert_valid_until"]:
            item["certification"] = {
                "scheme": v["cert_scheme"],
                "code": v["cert_code"],
                "valid_until": v["cert_valid_until"],
            }
        out.append(item)
        rows.append(i)
    return out, rows


def customers_from_form(form: MultiDict[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    out: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in _rows(form, "customers"):
        v = {f: form.get(f"customers-{i}-{f}", "").strip() for f in CUSTOMER_FIELDS}
        if not v["id"] and not v["name"]:
            continue
        item: dict[str, Any] = {"id": v["id"], "name": v["name"], "kind": v["kind"] or "other"}
        item.update({k: v[k] for k in ("address", "phone") if v[k]})
        out.append(item)
        rows.append(i)
    return out, rows


def check(key: str, items: list[dict[str, Any]]) -> None:
    """The contract's validation, before anything is saved; raises SupplyError."""
    (parse_suppliers if key == "suppliers" else parse_customers)(items)


def supplier_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the supplier form shows: one row per supplier, then empty rows."""
    rows: list[dict[str, Any]] = []
    for s in items:
        cert = s.get("certification") or {}
        row: dict[str, Any] = {f: str(s.get(f) or "") for f in SUPPLIER_FIELDS}
        row.update(
            cert_scheme=str(cert.get("scheme") or ""),
            cert_code=str(cert.get("code") or ""),
            cert_valid_until=str(cert.get("valid_until") or ""),
            public_name=bool(s.get("public_name", s.get("kind") != "farmer")),
        )
        rows.append(row)
    blank: dict[str, Any] = {**dict.fromkeys(SUPPLIER_FIELDS, ""), "kind": "farmer"}
    return rows + [dict(blank, public_name=False) for _ in range(EXTRA_ROWS)]


def customer_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{f: str(c.get(f) or "") for f in CUSTOMER_FIELDS} for c in items]
    blank = {**dict.fromkeys(CUSTOMER_FIELDS, ""), "kind": "shop"}
    return rows + [dict(blank) for _ in range(EXTRA_ROWS)]


def rows_from_request(key: str, form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """Re-fill the form from what was posted, row for row, so a typo loses nothing and each
    message stays beside its own row."""
    fields = SUPPLIER_FIELDS if key == "suppliers" else CUSTOMER_FIELDS
    rows: list[dict[str, Any]] = []
    for i in range(max(_rows(form, key), default=-1) + 1):
        row: dict[str, Any] = {f: form.get(f"{key}-{i}-{f}", "").strip() for f in fields}
        if key == "suppliers":
            row["public_name"] = bool(row["public_name"])
        rows.append(row)
    return rows
