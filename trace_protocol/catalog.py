"""The facility catalog sent down the retained ``config`` topic: products and their steps."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from trace_protocol import PROTOCOL_VERSION
from trace_protocol.bounded_json import JSONBoundsError, loads_bounded
from trace_protocol.links import RECEIPT_PRODUCT, check_gtin
from trace_protocol.supply import (
    Customer,
    Material,
    Supplier,
    SupplyError,
    YieldRange,
    parse_customers,
    parse_product_supply,
    parse_suppliers,
)
from trace_protocol.workers import Worker, WorkerError, parse_workers


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the offending entry."""


@dataclass(frozen=True)
class Text:
    """A label in Vietnamese first, English second."""

    vi: str
    en: str = ""

    def get(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.vi


@dataclass(frozen=True)
class MeasuredField:
    key: str
    label: Text
    unit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class StepTemplate:
    code: str
    name: Text
    fields: tuple[MeasuredField, ...] = ()


@dataclass(frozen=True)
class Certificate:
    """The OCOP recognition decision, e.g. a decision of the UBND tỉnh Hà Tĩnh."""

    decision: str  # số quyết định, e.g. "1234/QĐ-UBND"
    issued_by: str
    issued_on: str  # ISO dates: YYYY-MM-DD
    valid_until: str

    def expired(self, today: date) -> bool:
        return date.fromisoformat(self.valid_until) < today


@dataclass(frozen=True)
class Origin:
    """Where one raw material comes from."""

    material: Text
    place: Text


@dataclass(frozen=True)
class Product:
    code: str
    name: Text
    ocop_stars: int
    shelf_life_days: int
    unit: str
    steps: tuple[StepTemplate, ...]
    gtin: str | None = None
    certificate: Certificate | None = None
    origins: tuple[Origin, ...] = ()
    # Issue 15: the raw materials it uses, the standards it applies, the output expected per
    # unit of input (mass balance), and its photo (sha256 of a blob the office uploaded).
    materials: tuple[Material, ...] = ()
    standards: tuple[str, ...] = ()
    expected_yield: YieldRange | None = None
    photo: str = ""

    def material(self, code: str) -> Material | None:
        return next((m for m in self.materials if m.code == code), None)

    def step(self, code: str) -> StepTemplate | None:
        return next((s for s in self.steps if s.code == code), None)


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    commune: str
    district: str
    province: str
    # WGS 84 degrees, for the office map; optional.
    lat: float | None = None
    lon: float | None = None
    # Contact shown to consumers who doubt a label (the counterfeit page); optional.
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Catalog:
    version: int
    facility: Facility
    products: tuple[Product, ...]
    public_base_url: str
    extra: dict[str, Any] = field(default_factory=dict)
    # Who may record on the touchscreens, with hashed PINs; empty = no PIN asked (issue 12).
    workers: tuple[Worker, ...] = ()
    # Issue 15: who the facility buys from and ships to, and its lots under recall.
    suppliers: tuple[Supplier, ...] = ()
    customers: tuple[Customer, ...] = ()
    recalled_lots: tuple[str, ...] = ()

    def supplier(self, supplier_id: str) -> Supplier | None:
        return next((s for s in self.suppliers if s.id == supplier_id), None)

    def customer(self, customer_id: str) -> Customer | None:
        return next((c for c in self.customers if c.id == customer_id), None)

    def product(self, code: str) -> Product | None:
        return next((p for p in self.products if p.code == code), None)

    def worker(self, worker_id: str) -> Worker | None:
        return next((w for w in self.workers if w.id == worker_id), None)

    def to_dict(self) -> dict[str, Any]:
        out = {"v": PROTOCOL_VERSION, **asdict(self)}
        if not self.workers:
            del out["workers"]  # catalogs without PINs stay as they were
        for key in ("phone", "email"):
            if not out["facility"][key]:
                del out["facility"][key]  # nor do catalogs without contacts
        for key in ("suppliers", "customers", "recalled_lots"):
            if not out[key]:
                del out[key]  # nor those without issue 15's lists
        for product in out["products"]:
            for key in ("materials", "standards", "expected_yield", "photo"):
                if not product[key]:
                    del product[key]
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()


def _contact(obj: Any, where: str) -> str:
    if obj is None:
        return ""
    if not isinstance(obj, str) or len(obj) > 100:
        raise CatalogError(f"{where}: expected text of at most 100 characters")
    return obj.strip()


def _text(obj: Any, where: str) -> Text:
    if isinstance(obj, str):
        return Text(vi=obj)
    if isinstance(obj, dict) and isinstance(obj.get("vi"), str) and obj["vi"]:
        return Text(vi=obj["vi"], en=str(obj.get("en", "")))
    raise CatalogError(f"{where}: expected text or {{'vi': …, 'en': …}}")


def _code(obj: Any, where: str, max_len: int = 16) -> str:
    if not isinstance(obj, str) or not obj or len(obj) > max_len or not obj.isascii():
        raise CatalogError(f"{where}: code must be 1-{max_len} ASCII characters")
    if not all(c.isalnum() or c in "-_" for c in obj):
        raise CatalogError(f"{where}: code may hold letters, digits, '-' and '_' only")
    return obj


def _num(obj: Any, where: str) -> float | None:
    if obj is None:
        return None
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        raise CatalogError(f"{where}: must be a number")
    return float(obj)


def _coordinate(obj: Any, where: str, limit: float) -> float | None:
    value = _num(obj, where)
    if value is not None and not -limit <= value <= limit:
        raise CatalogError(f"{where}: must be between -{limit:g} and {limit:g}")
    return value


def _field(obj: Any, where: str) -> MeasuredField:
    if not isinstance(obj, dict):
        raise CatalogError(f"{where}: must be an object")
    return MeasuredField(
        key=_code(obj.get("key"), f"{where}.key"),
        label=_text(obj.get("label"), f"{where}.label"),
        unit=str(obj.get("unit", "")),
        min=_num(obj.get("min"), f"{where}.min"),
        max=_num(obj.get("max"), f"{where}.max"),
    )


def _step(obj: Any, where: str) -> StepTemplate:
    if not isinstance(obj, dict):
        raise CatalogError(f"{where}: must be an object")
    fields = obj.get("fields", [])
    if not isinstance(fields, list):
        raise CatalogError(f"{where}.fields: must be a list")
    return StepTemplate(
        code=_code(obj.get("code"), f"{where}.code"),
        name=_text(obj.get("name"), f"{where}.name"),
        fields=tuple(_field(f, f"{where}.fields[{i}]") for i, f in enumerate(fields)),
    )


def _date(obj: Any, where: str) -> str:
    try:
        return date.fromisoformat(obj).isoformat() if isinstance(obj, str) else ""
    except ValueError:
        pass
    raise CatalogError(f"{where}: must be a date YYYY-MM-DD")


def _certificate(obj: Any, where: str) -> Certificate | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise CatalogError(f"{where}: must be an object")
    for key in ("decision", "issued_by"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise CatalogError(f"{where}.{key}: required text")
    if obj.get("issued_on") is None or obj.get("valid_until") is None:
        missing = "issued_on" if obj.get("issued_on") is None else "valid_until"
        raise CatalogError(f"{where}.{missing}: must be a date YYYY-MM-DD")
    cert = Certificate(
        decision=obj["decision"].strip(),
        issued_by=obj["issued_by"].strip(),
        issued_on=_date(obj["issued_on"], f"{where}.issued_on"),
        valid_until=_date(obj["valid_until"], f"{where}.valid_until"),
    )
    if cert.valid_until < cert.issued_on:
        raise CatalogError(f"{where}.valid_until: must not be before issued_on")
    return cert


def _origins(obj: Any, where: str) -> tuple[Origin, ...]:
    if obj is None:
        return ()
    if not isinstance(obj, list):
        raise CatalogError(f"{where}: must be a list")
    out = []
    for i, item in enumerate(obj):
        if not isinstance(item, dict):
            raise CatalogError(f"{where}[{i}]: must be an object")
        material = _text(item.get("material"), f"{where}[{i}].material")
        place = _text(item.get("place"), f"{where}[{i}].place")
        for key, text in (("material", material), ("place", place)):
            if not text.vi.strip():
                raise CatalogError(f"{where}[{i}].{key}: required text")
        out.append(Origin(material=material, place=place))
    return tuple(out)


def _product(obj: Any, where: str) -> Product:
    if not isinstance(obj, dict):
        raise CatalogError(f"{where}: must be an object")
    stars = obj.get("ocop_stars", 0)
    if not isinstance(stars, int) or not 0 <= stars <= 5:
        raise CatalogError(f"{where}.ocop_stars: must be 0-5")
    shelf = obj.get("shelf_life_days", 0)
    if not isinstance(shelf, int) or shelf < 0:
        raise CatalogError(f"{where}.shelf_life_days: must be a whole number >= 0")
    gtin = obj.get("gtin")
    if gtin is not None:
        try:
            gtin = check_gtin(str(gtin))
        except ValueError as exc:
            raise CatalogError(f"{where}.gtin: {exc}") from exc
    steps = obj.get("steps")
    if not isinstance(steps, list) or not steps:
        raise CatalogError(f"{where}.steps: a product needs at least one process step")
    parsed = tuple(_step(s, f"{where}.steps[{i}]") for i, s in enumerate(steps))
    if len({s.code for s in parsed}) != len(parsed):
        raise CatalogError(f"{where}.steps: step codes must be unique")
    code = _code(obj.get("code"), f"{where}.code", max_len=4)
    if code.upper() == RECEIPT_PRODUCT:
        raise CatalogError(f"{where}.code: {RECEIPT_PRODUCT} is kept for receiving lots")
    try:
        supply = parse_product_supply(obj, where)
    except SupplyError as exc:
        raise CatalogError(str(exc)) from exc
    return Product(
        code=code,
        name=_text(obj.get("name"), f"{where}.name"),
        ocop_stars=stars,
        shelf_life_days=shelf,
        unit=str(obj.get("unit", "kg")),
        steps=parsed,
        gtin=gtin,
        certificate=_certificate(obj.get("certificate"), f"{where}.certificate"),
        origins=_origins(obj.get("origins"), f"{where}.origins"),
        **supply,
    )


def parse_product(obj: Any, where: str = "product") -> Product:
    """One product entry (as stored in a catalog); raises :class:`CatalogError`."""
    return _product(obj, where)


def parse_catalog(obj: Any) -> Catalog:
    """Validate a catalog (already decoded JSON); raises :class:`CatalogError`."""
    if not isinstance(obj, dict):
        raise CatalogError("catalog must be a JSON object")
    if obj.get("v", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        raise CatalogError(f"unsupported catalog version {obj.get('v')!r}")
    version = obj.get("version")
    if not isinstance(version, int) or version < 1:
        raise CatalogError("version: must be an integer >= 1")
    fac = obj.get("facility")
    if not isinstance(fac, dict):
        raise CatalogError("facility: must be an object")
    facility = Facility(
        code=_code(fac.get("code"), "facility.code", max_len=5),
        name=str(fac.get("name") or ""),
        commune=str(fac.get("commune", "")),
        district=str(fac.get("district", "")),
        province=str(fac.get("province", "")),
        lat=_coordinate(fac.get("lat"), "facility.lat", 90.0),
        lon=_coordinate(fac.get("lon"), "facility.lon", 180.0),
        phone=_contact(fac.get("phone"), "facility.phone"),
        email=_contact(fac.get("email"), "facility.email"),
    )
    if not facility.name:
        raise CatalogError("facility.name: required")
    products = obj.get("products")
    if not isinstance(products, list) or not products:
        raise CatalogError("products: a catalog needs at least one product")
    parsed = tuple(_product(p, f"products[{i}]") for i, p in enumerate(products))
    if len({p.code for p in parsed}) != len(parsed):
        raise CatalogError("products: product codes must be unique")
    base = obj.get("public_base_url")
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise CatalogError("public_base_url: must be an http(s) URL")
    try:
        workers = parse_workers(obj.get("workers"))
    except WorkerError as exc:
        raise CatalogError(str(exc)) from exc
    try:
        suppliers = parse_suppliers(obj.get("suppliers"))
        customers = parse_customers(obj.get("customers"))
    except SupplyError as exc:
        raise CatalogError(str(exc)) from exc
    recalled = obj.get("recalled_lots", [])
    if not isinstance(recalled, list) or not all(isinstance(x, str) for x in recalled):
        raise CatalogError("recalled_lots: must be a list of lot codes")
    return Catalog(
        version=version,
        facility=facility,
        products=parsed,
        public_base_url=base.rstrip("/"),
        extra=dict(obj.get("extra", {})),
        workers=workers,
        suppliers=suppliers,
        customers=customers,
        recalled_lots=tuple(recalled),
    )


MAX_CATALOG_BYTES = 1_048_576


def decode_catalog(payload: bytes) -> Catalog:
    """Parse the config topic's payload; anything out of bounds is a :class:`CatalogError`."""
    try:
        obj = loads_bounded(payload, max_bytes=MAX_CATALOG_BYTES)
    except JSONBoundsError as exc:
        raise CatalogError(f"catalog: {exc}") from exc
    try:
        return parse_catalog(obj)
    except CatalogError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # parse_catalog checks field by field; a shape it did not foresee is still refused.
        raise CatalogError(f"catalog: malformed: {exc}") from exc
