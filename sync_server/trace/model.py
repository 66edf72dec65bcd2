"""What a trace is: the lots it reached, the edges between them, suppliers and shipments.

Plain frozen dataclasses, shared by the SQL side (lots.py), the text tree (tree.py), the CLI and
the office page, and turned into JSON by :func:`trace_json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["output", "receipt", "supplier"]
Direction = Literal["backward", "forward"]

OUTPUT: Kind = "output"
RECEIPT: Kind = "receipt"
SUPPLIER: Kind = "supplier"


def supplier_key(supplier_id: str, supplier_lot: str) -> str:
    """The key of a supplier's lot in a trace's edges: ``S01/L-2611``. A supplier id never
    holds ``/`` (trace_protocol/supply.py), so the first ``/`` splits the two."""
    return f"{supplier_id}/{supplier_lot}"


@dataclass(frozen=True)
class LotNode:
    """One lot of a trace: a batch's output lot, a receipt's receiving lot, or a supplier's lot.

    ``record_id`` is the batch id (output) or the receipt id (receipt), ``""`` for a supplier's
    lot; ``date`` is the production day, the day received, or the first day a facility received
    the supplier's lot. ``name`` is Vietnamese (product, material or supplier), ``name_en`` its
    English name when the catalog has one."""

    lot: str
    kind: Kind
    facility_code: str
    name: str
    date: str
    dev_id: str
    record_id: str
    voided: bool = False
    supplier_id: str = ""
    name_en: str = ""
    quantity: float | None = None
    unit: str = ""

    @property
    def key(self) -> str:
        """How edges name this lot: the lot itself, or ``supplier_id/lot`` for a supplier's."""
        return supplier_key(self.supplier_id, self.lot) if self.kind == SUPPLIER else self.lot

    @property
    def batch_id(self) -> str | None:
        return self.record_id if self.kind == OUTPUT else None

    @property
    def receipt_id(self) -> str | None:
        return self.record_id if self.kind == RECEIPT else None


@dataclass(frozen=True)
class ShipmentRow:
    """Part of an output lot sent to a customer (forward traces): whom to call in a recall."""

    lot: str
    customer_id: str
    customer_name: str
    phone: str
    address: str
    shipped_on: str
    quantity: float
    unit: str
    facility_code: str
    shipment_id: str = ""
    dev_id: str = ""
    batch_id: str = ""

    def cells(self) -> list[object]:
        """One row of a shipments CSV, in :data:`SHIPMENT_COLUMNS`' order."""
        return [
            self.lot,
            self.facility_code,
            self.customer_id,
            self.customer_name,
            self.phone,
            self.address,
            self.shipped_on,
            self.quantity,
            self.unit,
        ]


# The columns of a shipments CSV (the office's trace and recall call-back lists).
SHIPMENT_COLUMNS = (
    "lot",
    "facility",
    "customer_id",
    "customer",
    "phone",
    "address",
    "shipped_on",
    "quantity",
    "unit",
)


@dataclass(frozen=True)
class SupplierRow:
    """A receipt's supplier (backward traces): who delivered which lot to which facility."""

    supplier_id: str
    name: str
    kind: str
    commune: str
    district: str
    province: str
    supplier_lot: str
    receipt_lot: str
    facility_code: str
    received_on: str
    material: str
    quantity: float
    unit: str
    public_name: bool = False
    certification: str = ""
    supplier_facility: str = ""


@dataclass(frozen=True)
class Trace:
    """The closure of one lot code, backward (inputs, suppliers) or forward (uses, shipments).

    ``root`` is the code asked for and ``roots`` the keys it matched (several when a supplier's
    lot code is shared by suppliers); ``edges`` are ``(from, to)`` keys in the direction the
    material flows (supplier → receipt → output → receipt of another facility …), whichever
    way the trace went. An unknown code gives a trace with no lots."""

    root: str
    direction: Direction
    roots: tuple[str, ...]
    lots: tuple[LotNode, ...]
    edges: tuple[tuple[str, str], ...]
    shipments: tuple[ShipmentRow, ...] = ()
    suppliers: tuple[SupplierRow, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.roots)

    def node(self, key: str) -> LotNode | None:
        return next((n for n in self.lots if n.key == key), None)

    def lots_of(self, kind: Kind) -> tuple[LotNode, ...]:
        return tuple(n for n in self.lots if n.kind == kind)


def trace_json(trace: Trace) -> dict[str, Any]:
    """The trace as JSON-ready data (``ocop server trace --json``): lots carry their key."""
    lots = [{"key": n.key, **dataclasses.asdict(n)} for n in trace.lots]
    return {
        "root": trace.root,
        "direction": trace.direction,
        "roots": list(trace.roots),
        "lots": lots,
        "edges": [list(e) for e in trace.edges],
        "shipments": [dataclasses.asdict(s) for s in trace.shipments],
        "suppliers": [dataclasses.asdict(s) for s in trace.suppliers],
    }
