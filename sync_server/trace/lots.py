"""Trace a lot through the server's tables: backward to its inputs and their suppliers, forward
to the batches that used it and the customers they were shipped to, across facilities.

Nodes are output lots (``batches.public_lot``), receiving lots (``receipts.lot``) and suppliers'
lots (``receipts.supplier_id`` + ``supplier_lot``). Edges: supplier's lot → receipt; another
facility's output lot → receipt when the receipt was scanned from its label
(``receipts.source_lot``, the cross-facility join); receipt → batch (``input_uses``); batch →
shipment (forward traces list the shipments). The closure runs a few indexed queries per level
(sync_server/trace/graph.py), never one per lot; voided batches are kept and marked voided.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select

from sync_server.store.db import batches, input_uses, receipts, shipments
from sync_server.trace.graph import closure, reverse
from sync_server.trace.model import (
    OUTPUT,
    RECEIPT,
    SUPPLIER,
    Direction,
    LotNode,
    ShipmentRow,
    SupplierRow,
    Trace,
)

# Values per IN list: far below SQLite's and PostgreSQL's bind-parameter limits, and still one
# query per level for any real trace.
CHUNK = 900

# ("output", lot) | ("receipt", lot) | ("supplier", supplier_id, supplier_lot)
Key = tuple[str, ...]

_BATCH = (
    batches.c.dev_id,
    batches.c.batch_id,
    batches.c.lot,
    batches.c.public_lot,
    batches.c.facility_code,
    batches.c.product,
    batches.c.production_date,
    batches.c.status,
    batches.c.voided_at,
    batches.c.quantity,
    batches.c.unit,
)
_RECEIPT = (
    receipts.c.receipt_id,
    receipts.c.dev_id,
    receipts.c.facility_code,
    receipts.c.lot,
    receipts.c.supplier_id,
    receipts.c.supplier,
    receipts.c.material,
    receipts.c.supplier_lot,
    receipts.c.source_lot,
    receipts.c.quantity,
    receipts.c.unit,
    receipts.c.received_on,
)
_USED_IN = input_uses.join(
    batches,
    and_(batches.c.dev_id == input_uses.c.dev_id, batches.c.batch_id == input_uses.c.batch_id),
)


def trace_backward(conn: Connection, lot: str, supplier_id: str | None = None) -> Trace:
    """Where ``lot`` came from: the receipts used in it, their suppliers' lots, and through a
    receipt scanned from another facility's label, that facility's batch and its inputs."""
    walk = _Walk(conn)
    roots = walk.resolve(lot, supplier_id, backward=True)
    found = closure(roots, walk.upstream)
    return walk.trace(lot, "backward", roots, found.nodes, reverse(found.edges))


def trace_forward(conn: Connection, lot: str, supplier_id: str | None = None) -> Trace:
    """Where ``lot`` went: the receipts of it, the batches that used them, the receipts of those
    batches' lots at other facilities, and every shipment of an output lot reached.

    ``lot`` is an output lot, a receiving lot or a supplier's lot code; with ``supplier_id``
    only that supplier's lot of that code, without it every supplier's lot of that code."""
    walk = _Walk(conn)
    roots = walk.resolve(lot, supplier_id)
    found = closure(roots, walk.downstream)
    return walk.trace(lot, "forward", roots, found.nodes, found.edges)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _text(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


def _names(product: Any) -> tuple[str, str]:
    """A batch's product name as (Vietnamese, English) from its snapshot."""
    name = product.get("name") if isinstance(product, dict) else None
    if isinstance(name, dict):
        vi, en = _text(name, "vi"), _text(name, "en")
        return vi or en, en
    return (name if isinstance(name, str) else ""), ""


def _output_node(r: Row[Any]) -> LotNode:
    vi, en = _names(r.product)
    return LotNode(
        lot=r.public_lot or r.lot,
        kind=OUTPUT,
        facility_code=r.facility_code,
        name=vi or str(_text(r.product, "code")),
        date=r.production_date,
        dev_id=r.dev_id,
        record_id=r.batch_id,
        voided=r.status == "voided" or r.voided_at is not None,
        name_en=en,
        quantity=r.quantity,
        unit=r.unit or "",
    )


def _receipt_node(r: Row[Any]) -> LotNode:
    return LotNode(
        lot=r.lot,
        kind=RECEIPT,
        facility_code=r.facility_code,
        name=_text(r.material, "name"),
        date=r.received_on,
        dev_id=r.dev_id,
        record_id=r.receipt_id,
        supplier_id=r.supplier_id,
        name_en=_text(r.material, "name_en"),
        quantity=r.quantity,
        unit=r.unit,
    )


def _supplier_node(r: Row[Any]) -> LotNode:
    return LotNode(
        lot=r.supplier_lot,
        kind=SUPPLIER,
        facility_code=_text(r.supplier, "facility"),
        name=_text(r.supplier, "name"),
        date=r.received_on,
        dev_id="",
        record_id="",
        supplier_id=r.supplier_id,
    )


def _certification(supplier: Any) -> str:
    cert = supplier.get("certification") if isinstance(supplier, dict) else None
    if not isinstance(cert, dict):
        return ""
    text = " ".join(p for p in (_text(cert, "scheme"), _text(cert, "code")) if p)
    until = _text(cert, "valid_until")
    return f"{text} (→ {until})" if until else text


class _Walk:
    """One trace's queries, and the rows they met: each lot's details for the result."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.nodes: dict[Key, LotNode] = {}
        self.receipt_rows: dict[str, Row[Any]] = {}

    def _batch(self, r: Row[Any]) -> Key:
        node = _output_node(r)
        key: Key = (OUTPUT, node.lot)
        self.nodes.setdefault(key, node)
        return key

    def _receipt(self, r: Row[Any]) -> Key:
        key: Key = (RECEIPT, r.lot)
        self.receipt_rows.setdefault(r.lot, r)
        self.nodes.setdefault(key, _receipt_node(r))
        return key

    def _supplier(self, r: Row[Any]) -> Key:
        key: Key = (SUPPLIER, r.supplier_id, r.supplier_lot)
        node = _supplier_node(r)
        known = self.nodes.get(key)
        if known is None or node.date < known.date:  # the first day it was received
            self.nodes[key] = node
        return key

    def _rows(self, query: Any) -> Sequence[Row[Any]]:
        return self.conn.execute(query).all()

    def resolve(self, lot: str, supplier_id: str | None, *, backward: bool = False) -> list[Key]:
        """The lots a code names: an output lot, a receiving lot, suppliers' lots. Backward, a
        code that is a lot of the kit is only that lot: a supplier's lot is a leaf, with nothing
        behind it to find (the consumer pages' recall check traces every page view)."""
        roots: list[Key] = []
        if supplier_id is None:
            query = select(*_BATCH).where(batches.c.public_lot == lot)
            roots += [self._batch(r) for r in self._rows(query)]
            query = select(*_RECEIPT).where(receipts.c.lot == lot)
            roots += [self._receipt(r) for r in self._rows(query)]
            if backward and roots:
                return sorted(set(roots))
        # One index probe either way: receipts_supplier_lot with the supplier, or
        # receipts_by_supplier_lot (the code alone, every supplier's lot of that code).
        query = select(*_RECEIPT).where(receipts.c.supplier_lot == lot)
        if supplier_id is not None:
            query = query.where(receipts.c.supplier_id == supplier_id)
        # A receipt scanned from this kit lot's label names it as its supplier's lot too: the
        # output lot already leads to that receipt (source_lot), so it is not a root.
        roots += [
            self._supplier(r)
            for r in self._rows(query)
            if r.supplier_lot and not (r.source_lot == lot and (OUTPUT, lot) in roots)
        ]
        return sorted(set(roots))

    def downstream(self, frontier: frozenset[Key]) -> list[tuple[Key, Key]]:
        """Edges leaving ``frontier`` in the direction the material flows."""
        edges: list[tuple[Key, Key]] = []
        outputs = [k[1] for k in frontier if k[0] == OUTPUT]
        for chunk in _chunks(outputs):
            query = select(*_RECEIPT).where(receipts.c.source_lot.in_(chunk))
            edges += [((OUTPUT, r.source_lot), self._receipt(r)) for r in self._rows(query)]
        by_id = {self.nodes[k].record_id: k for k in frontier if k[0] == RECEIPT}
        for chunk in _chunks(by_id):
            query = (
                select(input_uses.c.receipt_id, *_BATCH)
                .select_from(_USED_IN)
                .where(input_uses.c.receipt_id.in_(chunk))
            )
            edges += [(by_id[r.receipt_id], self._batch(r)) for r in self._rows(query)]
        lots_of: dict[str, list[str]] = {}
        for k in frontier:
            if k[0] == SUPPLIER:
                lots_of.setdefault(k[1], []).append(k[2])
        if lots_of:
            match = or_(
                *(
                    and_(receipts.c.supplier_id == sid, receipts.c.supplier_lot.in_(lots))
                    for sid, lots in sorted(lots_of.items())
                )
            )
            for r in self._rows(select(*_RECEIPT).where(match)):
                edges.append(((SUPPLIER, r.supplier_id, r.supplier_lot), self._receipt(r)))
        return edges

    def upstream(self, frontier: frozenset[Key]) -> list[tuple[Key, Key]]:
        """Edges from ``frontier`` to what it was made from (against the material flow)."""
        edges: list[tuple[Key, Key]] = []
        outputs = [k[1] for k in frontier if k[0] == OUTPUT]
        for chunk in _chunks(outputs):
            query = (
                select(batches.c.public_lot, *_RECEIPT[1:], input_uses.c.receipt_id)
                .select_from(
                    _USED_IN.join(receipts, receipts.c.receipt_id == input_uses.c.receipt_id)
                )
                .where(batches.c.public_lot.in_(chunk))
            )
            edges += [((OUTPUT, r.public_lot), self._receipt(r)) for r in self._rows(query)]
        sources: dict[str, list[Key]] = {}
        for k in frontier:
            if k[0] != RECEIPT:
                continue
            r = self.receipt_rows[k[1]]
            if r.source_lot:
                sources.setdefault(r.source_lot, []).append(k)
            if r.supplier_lot and r.supplier_lot != r.source_lot:
                edges.append((k, self._supplier(r)))
        made_here: set[str] = set()
        for chunk in _chunks(sources):
            query = select(*_BATCH).where(batches.c.public_lot.in_(chunk))
            for r in self._rows(query):
                made = self._batch(r)
                made_here.add(r.public_lot)
                edges += [(k, made) for k in sources[r.public_lot]]
        # A label of a lot this server does not hold: the supplier's lot is all there is.
        for source_lot in set(sources) - made_here:
            for k in sources[source_lot]:
                r = self.receipt_rows[k[1]]
                if r.supplier_lot:
                    edges.append((k, self._supplier(r)))
        return edges

    def trace(
        self,
        root: str,
        direction: Direction,
        roots: list[Key],
        keys: frozenset[Key],
        edges: frozenset[tuple[Key, Key]],
    ) -> Trace:
        nodes = sorted(
            (self.nodes[k] for k in keys), key=lambda n: (n.date, n.kind, n.facility_code, n.key)
        )
        name = {k: self.nodes[k].key for k in keys}
        flow = sorted((name[a], name[b]) for a, b in edges)
        shipped: tuple[ShipmentRow, ...] = ()
        supplied: tuple[SupplierRow, ...] = ()
        if direction == "forward":
            shipped = self._shipments([n.lot for n in nodes if n.kind == OUTPUT])
        else:
            supplied = tuple(
                _supplier_row(self.receipt_rows[n.lot]) for n in nodes if n.kind == RECEIPT
            )
        return Trace(
            root=root,
            direction=direction,
            roots=tuple(name[k] for k in roots),
            lots=tuple(nodes),
            edges=tuple(flow),
            shipments=shipped,
            suppliers=supplied,
        )

    def _shipments(self, lots: list[str]) -> tuple[ShipmentRow, ...]:
        found: list[ShipmentRow] = []
        for chunk in _chunks(lots):
            query = select(shipments).where(shipments.c.lot.in_(chunk))
            for r in self.conn.execute(query).mappings():
                found.append(
                    ShipmentRow(
                        lot=r["lot"],
                        customer_id=r["customer_id"],
                        customer_name=_text(r["customer"], "name"),
                        phone=_text(r["customer"], "phone"),
                        address=_text(r["customer"], "address"),
                        shipped_on=r["shipped_on"],
                        quantity=r["quantity"],
                        unit=r["unit"],
                        facility_code=r["facility_code"],
                        shipment_id=r["shipment_id"],
                        dev_id=r["dev_id"],
                        batch_id=r["batch_id"],
                    )
                )
        return tuple(sorted(found, key=lambda s: (s.shipped_on, s.lot, s.shipment_id)))


def _supplier_row(r: Row[Any]) -> SupplierRow:
    s = r.supplier
    return SupplierRow(
        supplier_id=r.supplier_id,
        name=_text(s, "name"),
        kind=_text(s, "kind"),
        commune=_text(s, "commune"),
        district=_text(s, "district"),
        province=_text(s, "province"),
        supplier_lot=r.supplier_lot,
        receipt_lot=r.lot,
        facility_code=r.facility_code,
        received_on=r.received_on,
        material=_text(r.material, "name"),
        quantity=r.quantity,
        unit=r.unit,
        public_name=bool(s.get("public_name")) if isinstance(s, dict) else False,
        certification=_certification(s),
        supplier_facility=_text(s, "facility"),
    )
