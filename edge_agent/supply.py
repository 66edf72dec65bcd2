"""What a worker can do with raw material and finished lots: receive, use in a batch, ship, void.

Issue 15, one step back and one step forward. Like :mod:`edge_agent.batches`, each command
checks its rules inside the journal transaction and appends one event whose body has passed
:func:`trace_protocol.supply_events.body_problem`. Stock is kept per receiving lot; using or
shipping more than is left is refused (``stock_exceeded``) unless the worker confirms, and the
confirmation is recorded as ``override: true`` (offline reality: never block a worker for good).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlite_utils import Database

from edge_agent import supply_queries as sq
from edge_agent.batches import After, DomainError, _put_by
from edge_agent.journal import Journal
from edge_agent.lot_letter import load_lot_index
from edge_agent.numbers import NumberError, parse_number
from edge_agent.queries import BatchRow, get_batch
from trace_protocol import supply_events as se
from trace_protocol.catalog import Catalog
from trace_protocol.envelope import Event
from trace_protocol.links import build_receipt_lot
from trace_protocol.supply import UNITS, Material

# Rounding slack when comparing stock (quantities are typed with at most a few decimals).
EPSILON = 1e-9


def parse_quantity(text: str) -> float:
    """A quantity as the worker typed it (decimal comma): a positive number, or DomainError."""
    try:
        value = parse_number(text)
    except NumberError as exc:
        code = "amount_use_comma" if exc.code == "use_comma" else "amount_invalid"
        raise DomainError(code) from exc
    if not 0 < value < 1e12:
        raise DomainError("amount_invalid")
    return value


def parse_day(text: str, today: date) -> str:
    """A date field (YYYY-MM-DD, empty for today); a day after today is refused."""
    if not text.strip():
        return today.isoformat()
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise DomainError("date_invalid") from exc
    if day > today:
        raise DomainError("date_in_future")
    return day.isoformat()


def materials(catalog: Catalog) -> list[Material]:
    """Every raw material the facility's products use, once each, in catalog order."""
    seen: dict[str, Material] = {}
    for product in catalog.products:
        for m in product.materials:
            seen.setdefault(m.code, m)
    return list(seen.values())


def _checked(event_type: str, body: dict[str, Any]) -> dict[str, Any]:
    problem = se.body_problem(event_type, body)
    if problem is not None:  # a bug of this module, never a worker's input
        raise DomainError("body_invalid", detail=problem)
    return body


def _require_batch(db: Database, batch_id: str, status: str) -> BatchRow:
    batch = get_batch(db, batch_id)
    if batch is None:
        raise DomainError("batch_not_found")
    if batch.status == "voided":
        raise DomainError("batch_voided", lot=batch.lot)
    if batch.status != status:
        raise DomainError("batch_closed" if status == "open" else "batch_not_closed", lot=batch.lot)
    return batch


def receive(
    journal: Journal,
    catalog: Catalog,
    lot_prefix: str,
    *,
    supplier_id: str,
    material_code: str,
    supplier_lot: str,
    quantity_text: str,
    unit: str = "",
    received_on: str = "",
    photo: str | None = None,
    source: dict[str, str] | None = None,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Record a raw-material receipt (``input.received``) with its own receiving lot."""
    supplier = catalog.supplier(supplier_id)
    if supplier is None:
        raise DomainError("unknown_supplier")
    material = next((m for m in materials(catalog) if m.code == material_code), None)
    if material is None:
        raise DomainError("unknown_material")
    supplier_lot = supplier_lot.strip()
    if len(supplier_lot) > se.MAX_SUPPLIER_LOT:
        raise DomainError("supplier_lot_too_long", max=se.MAX_SUPPLIER_LOT)
    quantity = parse_quantity(quantity_text)
    unit = unit or material.unit
    if unit not in UNITS:
        raise DomainError("unit_invalid")
    today = journal.clock.now().date()
    day = parse_day(received_on, today)
    if supplier_lot and supplier_lot in catalog.recalled_lots:
        raise DomainError("lot_recalled", lot=supplier_lot)
    snapshot = {k: v for k, v in asdict(supplier).items() if k != "certification"}
    if supplier.certification is not None:
        snapshot["certification"] = asdict(supplier.certification)
    body: dict[str, Any] = {
        "receipt": str(uuid.uuid4()),
        "lot": "",
        "supplier": snapshot,
        "material": asdict(material),
        "supplier_lot": supplier_lot,
        "quantity": quantity,
        "unit": unit,
        "received_on": day,
    }
    if source:
        body["source"] = dict(source)
    if photo:
        body["photo"] = photo
    _put_by(body, by)
    prefix = lot_prefix or catalog.facility.code

    def check(db: Database) -> None:
        # Distinct receiving lots per day and device, derived inside the write transaction
        # (as open_batch does for output lots).
        index = load_lot_index(db)
        taken = sq.receipt_lots(db)
        try:
            counter = 1
            while (lot := build_receipt_lot(prefix, today, counter, index)) in taken:
                counter += 1
        except ValueError as exc:
            raise DomainError("lot_unavailable", reason=str(exc)) from exc
        body["lot"] = lot
        _checked(se.INPUT_RECEIVED, body)

    return journal.append(se.INPUT_RECEIVED, body, check=check, after=after)


def use_input(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    receipt_id: str,
    quantity_text: str,
    *,
    override: bool = False,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Record part of a receipt going into an open batch (``input.added``)."""
    quantity = parse_quantity(quantity_text)
    body: dict[str, Any] = {"batch": batch_id, "receipt": receipt_id, "quantity": quantity}

    def check(db: Database) -> None:
        _require_batch(db, batch_id, "open")
        receipt = sq.get_receipt(db, receipt_id)
        if receipt is None:
            raise DomainError("unknown_receipt")
        for lot in (receipt.lot, receipt.supplier_lot):
            if lot and lot in catalog.recalled_lots:
                raise DomainError("lot_recalled", lot=lot)
        left = sq.stock_left(db, receipt_id)
        if quantity > left + EPSILON and not override:
            raise DomainError("stock_exceeded", left=float(max(left, 0.0)), unit=receipt.unit)
        body.update(lot=receipt.lot, unit=receipt.unit)
        if quantity > left + EPSILON:
            body["override"] = True
        _checked(se.INPUT_ADDED, body)

    _put_by(body, by)
    return journal.append(se.INPUT_ADDED, body, check=check, after=after)


def parse_serials(first: str, last: str) -> list[int] | None:
    """A unit serial range from two fields; None when both are empty."""
    if not first.strip() and not last.strip():
        return None
    try:
        a, b = int(first.strip() or last.strip()), int(last.strip() or first.strip())
    except ValueError as exc:
        raise DomainError("serials_invalid") from exc
    if not 1 <= a <= b:
        raise DomainError("serials_invalid")
    return [a, b]


def recalled_lot(db: Database, catalog: Catalog, batch: BatchRow) -> str | None:
    """The recalled lot that taints ``batch``: its own, or a receiving or supplier's lot that
    went into it; None when none is recalled."""
    recalled = set(catalog.recalled_lots)
    if not recalled:
        return None
    if batch.lot in recalled:
        return batch.lot
    for lot, supplier_lot in sq.batch_input_lots(db, batch.batch_id):
        for code in (lot, supplier_lot):
            if code and code in recalled:
                return code
    return None


def ship(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    *,
    customer_id: str,
    quantity_text: str = "",
    serial_from: str = "",
    serial_to: str = "",
    shipped_on: str = "",
    note: str = "",
    override: bool = False,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Record part of a finished lot sent to a customer (``lot.shipped``)."""
    customer = catalog.customer(customer_id)
    if customer is None:
        raise DomainError("unknown_customer")
    serials = parse_serials(serial_from, serial_to)
    if quantity_text.strip() or serials is None:
        quantity = parse_quantity(quantity_text)
    else:
        quantity = float(serials[1] - serials[0] + 1)
    if len(note) > se.MAX_NOTE:
        raise DomainError("note_too_long", max=se.MAX_NOTE)
    day = parse_day(shipped_on, journal.clock.now().date())
    body: dict[str, Any] = {
        "shipment": str(uuid.uuid4()),
        "batch": batch_id,
        "customer": asdict(customer),
        "quantity": quantity,
        "shipped_on": day,
        "note": note.strip(),
    }
    if serials is not None:
        body["serials"] = serials

    def check(db: Database) -> None:
        batch = _require_batch(db, batch_id, "closed")
        tainted = recalled_lot(db, catalog, batch)
        if tainted is not None:
            raise DomainError("lot_recalled", lot=tainted)
        left = (batch.quantity or 0.0) - sq.shipped_total(db, batch_id)
        if quantity > left + EPSILON and not override:
            raise DomainError("stock_exceeded", left=float(max(left, 0.0)), unit=batch.unit or "")
        body.update(lot=batch.lot, unit=batch.unit or "kg")
        if quantity > left + EPSILON:
            body["override"] = True
        _checked(se.LOT_SHIPPED, body)

    _put_by(body, by)
    return journal.append(se.LOT_SHIPPED, body, check=check, after=after)


def void_batch(
    journal: Journal,
    batch_id: str,
    reason: str,
    *,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Void an open batch opened by mistake (``batch.voided``): nothing more goes on it."""
    reason = reason.strip()
    if not reason or len(reason) > se.MAX_REASON:
        raise DomainError("reason_missing", max=se.MAX_REASON)
    body: dict[str, Any] = {"batch": batch_id, "reason": reason}
    _put_by(body, by)

    def check(db: Database) -> None:
        _require_batch(db, batch_id, "open")
        _checked(se.BATCH_VOIDED, body)

    return journal.append(se.BATCH_VOIDED, body, check=check, after=after)
