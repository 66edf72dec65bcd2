"""Mass balance of one batch (issue 15): the raw materials used against the output, judged by the
product's expected yield in the catalog. :func:`mass_balance` is pure; :func:`batch_balance`
reads what it needs. The office batch page shows a warning when the yield is outside the range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, select

from sync_server.store.db import facilities
from sync_server.store.supply_tables import input_uses, receipts
from trace_protocol.supply import SupplyError, YieldRange, parse_materials, parse_yield

Verdict = Literal["ok", "low", "high", "unknown"]

# Each unit as (dimension, factor to the dimension's base): kg and l; counted units only equal
# themselves. "tan" is the metric tonne (tấn).
_UNITS: dict[str, tuple[str, float]] = {
    "kg": ("mass", 1.0),
    "g": ("mass", 0.001),
    "tan": ("mass", 1000.0),
    "l": ("volume", 1.0),
    "ml": ("volume", 0.001),
}


@dataclass(frozen=True)
class Use:
    """Part of a receipt used in the batch: its current quantity and unit, and the material."""

    material_code: str
    quantity: float
    unit: str


@dataclass(frozen=True)
class Balance:
    verdict: Verdict
    input_total: float | None = None  # in ``input_unit``
    input_unit: str | None = None
    yield_ratio: float | None = None  # output per input unit
    expected: YieldRange | None = None


def convert(quantity: float, unit: str, to: str) -> float | None:
    """``quantity`` of ``unit`` in ``to``; None when the two cannot be compared."""
    if unit == to:
        return quantity
    a, b = _UNITS.get(unit), _UNITS.get(to)
    if a is None or b is None or a[0] != b[0]:
        return None
    return quantity * a[1] / b[1]


def mass_balance(product: dict[str, Any], output: float | None, uses: list[Use]) -> Balance:
    """Judge a batch of ``product`` (its catalog entry) that made ``output`` (in the product's
    unit) from ``uses``. ``unknown`` when there is no expected yield, no output or no use yet,
    or when a use is not one of the product's materials or cannot be counted in the product's
    input unit (the unit of its materials, which must be one)."""
    try:
        expected = parse_yield(product.get("expected_yield"))
        materials = parse_materials(product.get("materials"))
    except SupplyError:
        return Balance("unknown")
    units = {m.unit for m in materials}
    if expected is None or not output or output <= 0 or not uses or len(units) != 1:
        return Balance("unknown", expected=expected)
    input_unit = units.pop()
    codes = {m.code for m in materials}
    total = 0.0
    for use in uses:
        amount = convert(use.quantity, use.unit, input_unit) if use.material_code in codes else None
        if amount is None:
            return Balance("unknown", input_unit=input_unit, expected=expected)
        total += amount
    if total <= 0:
        return Balance("unknown", input_unit=input_unit, expected=expected)
    ratio = output / total
    verdict: Verdict = "low" if ratio < expected.min else "high" if ratio > expected.max else "ok"
    return Balance(verdict, total, input_unit, ratio, expected)


def batch_balance(conn: Connection, batch: Any) -> Balance:
    """The balance of a ``batches`` row: its uses' current quantities, its facility's catalog."""
    if batch["status"] != "closed":
        return Balance("unknown")
    rows = conn.execute(
        select(receipts.c.material_code, input_uses.c.quantity, input_uses.c.unit)
        # A receipt another device has not sent yet: its material unknown, so is the balance.
        .outerjoin(receipts, receipts.c.receipt_id == input_uses.c.receipt_id)
        .where(input_uses.c.dev_id == batch["dev_id"], input_uses.c.batch_id == batch["batch_id"])
    ).all()
    catalog = conn.execute(
        select(facilities.c.catalog).where(facilities.c.code == batch["facility_code"])
    ).scalar()
    products = (catalog or {}).get("products", [])
    product: dict[str, Any] = next(
        (p for p in products if p.get("code") == batch["product_code"]), {}
    )
    uses = [Use(str(r[0]), float(r[1]), str(r[2])) for r in rows]
    return mass_balance(product, batch["quantity"], uses)
