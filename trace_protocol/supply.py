"""One step back and one step forward (issue 15): a facility's suppliers and customers, the raw
materials a product uses, and the standards it applies, as the catalog carries them.

The office edits them; the server sends them down the retained ``config`` topic with the rest of
the catalog (:mod:`trace_protocol.catalog`), and a receipt, use or shipment event copies what it
needs of them (a snapshot), so an event still reads right after the catalog has changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

SUPPLIER_KINDS = ("farmer", "group", "coop", "company", "facility")
CUSTOMER_KINDS = ("shop", "distributor", "market", "company", "facility", "other")
# Raw materials and products count in these units; a receipt, use or shipment names one.
UNITS = ("kg", "g", "tan", "l", "ml", "cai", "hop", "chai", "hu", "goi", "qua", "con")
MAX_PARTNERS = 500


class SupplyError(ValueError):
    """A supplier, customer, material or standard entry that cannot be used."""


@dataclass(frozen=True)
class Certification:
    """A supplier's certification, e.g. VietGAP with its certificate code and validity."""

    scheme: str  # "VietGAP", "GlobalGAP", "hữu cơ TCVN 11041", ...
    code: str
    valid_until: str  # YYYY-MM-DD, or "" when the certificate has no end date

    def valid_on(self, day: date) -> bool:
        return not self.valid_until or date.fromisoformat(self.valid_until) >= day


@dataclass(frozen=True)
class Supplier:
    """Who a facility buys raw material from. ``facility`` names another facility of the kit
    when ``kind`` is ``facility``: its labelled lots then join the two records into one chain."""

    id: str
    name: str
    kind: str
    commune: str = ""
    district: str = ""
    province: str = ""
    facility: str = ""
    certification: Certification | None = None
    # May consumers see the name? A farmer's name is private unless the catalog says so; the
    # place (commune, district, province) is always shown.
    public_name: bool = False


@dataclass(frozen=True)
class Customer:
    """Who a facility ships to: an OCOP shop, a distributor, a market stall..."""

    id: str
    name: str
    kind: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Material:
    """A raw material a product uses, with the unit it is counted in."""

    code: str
    name: str  # Vietnamese, as product snapshots in events write it
    name_en: str
    unit: str


@dataclass(frozen=True)
class YieldRange:
    """Expected output per unit of input (e.g. 0.55-0.7 kg of rice per kg of paddy): a batch
    outside it gets a mass-balance warning in the office."""

    min: float
    max: float


def _text(obj: Any, where: str, *, required: bool = True, max_len: int = 200) -> str:
    if obj is None and not required:
        return ""
    if not isinstance(obj, str) or (required and not obj.strip()) or len(obj) > max_len:
        raise SupplyError(f"{where}: expected text of 1-{max_len} characters")
    return obj.strip()


def _id(obj: Any, where: str) -> str:
    if (
        not isinstance(obj, str)
        or not 1 <= len(obj) <= 16
        or not obj.isascii()
        or not all(c.isalnum() or c in "-_" for c in obj)
    ):
        raise SupplyError(f"{where}: an id is 1-16 ASCII letters, digits, '-' or '_'")
    return obj


def _choice(obj: Any, where: str, choices: tuple[str, ...]) -> str:
    if obj not in choices:
        raise SupplyError(f"{where}: must be one of {', '.join(choices)}")
    return str(obj)


def _date(obj: Any, where: str) -> str:
    if obj in (None, ""):
        return ""
    try:
        if isinstance(obj, str):
            return date.fromisoformat(obj).isoformat()
    except ValueError:
        pass
    raise SupplyError(f"{where}: must be a date YYYY-MM-DD")


def _certification(obj: Any, where: str) -> Certification | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise SupplyError(f"{where}: must be an object")
    return Certification(
        scheme=_text(obj.get("scheme"), f"{where}.scheme", max_len=60),
        code=_text(obj.get("code"), f"{where}.code", required=False, max_len=60),
        valid_until=_date(obj.get("valid_until"), f"{where}.valid_until"),
    )


def _list(obj: Any, where: str) -> list[Any]:
    if obj is None:
        return []
    if not isinstance(obj, list) or len(obj) > MAX_PARTNERS:
        raise SupplyError(f"{where}: must be a list of at most {MAX_PARTNERS}")
    return obj


def _unique(items: tuple[Any, ...], where: str, key: str = "id") -> None:
    seen = [getattr(i, key) for i in items]
    if len(set(seen)) != len(seen):
        raise SupplyError(f"{where}: {key}s must be unique")


def parse_suppliers(obj: Any, where: str = "suppliers") -> tuple[Supplier, ...]:
    out = []
    for i, item in enumerate(_list(obj, where)):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise SupplyError(f"{w}: must be an object")
        kind = _choice(item.get("kind"), f"{w}.kind", SUPPLIER_KINDS)
        facility = _text(item.get("facility"), f"{w}.facility", required=False, max_len=5)
        if kind == "facility" and not facility:
            raise SupplyError(f"{w}.facility: a supplier of kind 'facility' names its code")
        public = item.get("public_name", kind != "farmer")
        if not isinstance(public, bool):
            raise SupplyError(f"{w}.public_name: must be true or false")
        out.append(
            Supplier(
                id=_id(item.get("id"), f"{w}.id"),
                name=_text(item.get("name"), f"{w}.name"),
                kind=kind,
                commune=_text(item.get("commune"), f"{w}.commune", required=False),
                district=_text(item.get("district"), f"{w}.district", required=False),
                province=_text(item.get("province"), f"{w}.province", required=False),
                facility=facility,
                certification=_certification(item.get("certification"), f"{w}.certification"),
                public_name=public,
            )
        )
    parsed = tuple(out)
    _unique(parsed, where)
    return parsed


def parse_customers(obj: Any, where: str = "customers") -> tuple[Customer, ...]:
    out = []
    for i, item in enumerate(_list(obj, where)):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise SupplyError(f"{w}: must be an object")
        out.append(
            Customer(
                id=_id(item.get("id"), f"{w}.id"),
                name=_text(item.get("name"), f"{w}.name"),
                kind=_choice(item.get("kind", "other"), f"{w}.kind", CUSTOMER_KINDS),
                address=_text(item.get("address"), f"{w}.address", required=False),
                phone=_text(item.get("phone"), f"{w}.phone", required=False, max_len=40),
            )
        )
    parsed = tuple(out)
    _unique(parsed, where)
    return parsed


def parse_materials(obj: Any, where: str = "materials") -> tuple[Material, ...]:
    out = []
    for i, item in enumerate(_list(obj, where)):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise SupplyError(f"{w}: must be an object")
        raw = item.get("name")
        # {"vi": …, "en": …} as other catalog texts, or "name" + "name_en" as snapshots write it
        pair = raw if isinstance(raw, dict) else {"vi": raw, "en": item.get("name_en")}
        name, name_en = pair.get("vi"), pair.get("en")
        out.append(
            Material(
                code=_id(item.get("code"), f"{w}.code"),
                name=_text(name, f"{w}.name"),
                name_en=_text(name_en, f"{w}.name_en", required=False),
                unit=_choice(item.get("unit", "kg"), f"{w}.unit", UNITS),
            )
        )
    parsed = tuple(out)
    _unique(parsed, where, key="code")
    return parsed


def parse_standards(obj: Any, where: str = "standards") -> tuple[str, ...]:
    """The standards a product applies: "TCVN 5267-1:2008", "VietGAP", "HACCP", "ISO 22000"."""
    return tuple(_text(s, f"{where}[{i}]", max_len=80) for i, s in enumerate(_list(obj, where)))


def parse_yield(obj: Any, where: str = "expected_yield") -> YieldRange | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise SupplyError(f"{where}: must be an object {{'min': …, 'max': …}}")
    lo, hi = obj.get("min"), obj.get("max")
    for key, value in (("min", lo), ("max", hi)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SupplyError(f"{where}.{key}: must be a positive number")
    assert isinstance(lo, int | float) and isinstance(hi, int | float)
    if lo > hi:
        raise SupplyError(f"{where}.max: must not be below min")
    return YieldRange(float(lo), float(hi))


def parse_product_supply(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """A product entry's issue-15 fields, as keyword arguments of ``Product``."""
    photo = obj.get("photo", "")
    if not isinstance(photo, str) or (photo and not re.fullmatch(r"[0-9a-f]{64}", photo)):
        raise SupplyError(f"{where}.photo: must be the sha256 of an uploaded photo")
    return {
        "materials": parse_materials(obj.get("materials"), f"{where}.materials"),
        "standards": parse_standards(obj.get("standards"), f"{where}.standards"),
        "expected_yield": parse_yield(obj.get("expected_yield"), f"{where}.expected_yield"),
        "photo": photo,
    }
