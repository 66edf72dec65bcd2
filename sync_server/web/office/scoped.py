"""District scopes in the office views: which devices, lots, photos and trace lots one may see.

:class:`sync_server.accounts.scopes.Scope` filters rows by their facility code; the helpers here
cover what hangs off a facility indirectly (a device's photos, a lot named in a trace or a
recall) and what a district officer sees of a trace that crosses districts (docs/office.md,
"District scopes"): lots of facilities out of scope stay in the tree, so the path is whole, but
without their code, product, facility, quantity or links; their shipments and suppliers are left
out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from sqlalchemy import ColumnElement, Connection, literal, or_, select, true

from sync_server.accounts.scopes import Scope
from sync_server.store.db import batches, blob_refs, devices, facilities
from sync_server.store.supply_tables import receipts
from sync_server.trace.model import SUPPLIER, LotNode, Trace

# A hidden lot's key in a redacted trace starts with this (lot codes never do: they are
# [A-Z0-9-] for the kit's lots, and a supplier's lot key is "<id>/<lot>").
HIDDEN = "~"


def device_clause(scope: Scope, dev_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose device (``dev_id`` column) belongs to a facility in
    scope; an office-owned file (``office:<facility>``, a product photo) counts as its
    facility's."""
    if scope.province:
        return true()
    mine = select(devices.c.dev_id).where(scope.facilities(devices.c.facility_code))
    office = select(literal("office:") + facilities.c.code).where(
        scope.facilities(facilities.c.code)
    )
    return or_(dev_id.in_(mine), dev_id.in_(office))


def device_allowed(conn: Connection, scope: Scope, dev_id: str) -> bool:
    """Whether a device exists and belongs to a facility in scope."""
    code = conn.execute(select(devices.c.facility_code).where(devices.c.dev_id == dev_id)).scalar()
    return code is not None and scope.allows(conn, str(code))


def blob_allowed(conn: Connection, scope: Scope, sha256: str) -> bool:
    """Whether a stored file belongs (by any of its references) to a facility in scope."""
    if scope.province:
        return True
    found = conn.execute(
        select(blob_refs.c.sha256)
        .where(blob_refs.c.sha256 == sha256, device_clause(scope, blob_refs.c.dev_id))
        .limit(1)
    ).first()
    return found is not None


def foreign_lots(conn: Connection, scope: Scope, lots: Iterable[str]) -> frozenset[str]:
    """Those of ``lots`` that are a batch's or receipt's lot at facilities out of scope only
    (a lot held in and out of scope, or no facility's at all, stays visible)."""
    wanted = set(lots)
    if scope.province or not wanted:
        return frozenset()
    known: set[str] = set()
    for table in (batches, receipts):
        held = select(table.c.lot).where(table.c.lot.in_(sorted(wanted)))
        known.update(str(lot) for lot in conn.execute(held).scalars())
    return frozenset(known - lots_in_scope(conn, scope, known))


def scoped_trace(trace: Trace, allowed: Collection[str] | None) -> Trace:
    """The trace as an officer of the facilities ``allowed`` sees it (None: all of it).

    A lot of a facility out of scope keeps its place in the tree as ``~1``, ``~2`` … with
    nothing else; shipments and supplier rows of those facilities are left out."""
    if allowed is None:
        return trace
    shown = _visible_keys(trace, allowed)
    keys: dict[str, str] = {}
    lots: list[LotNode] = []
    for node in trace.lots:
        if node.key in shown:
            lots.append(node)
            continue
        hidden = LotNode(
            lot=f"{HIDDEN}{len(keys) + 1}",
            kind=node.kind,
            facility_code="",
            name="",
            date="",
            dev_id="",
            record_id="",
        )
        keys[node.key] = hidden.key
        lots.append(hidden)
    return dataclasses.replace(
        trace,
        roots=tuple(keys.get(k, k) for k in trace.roots),
        lots=tuple(lots),
        edges=tuple((keys.get(a, a), keys.get(b, b)) for a, b in trace.edges),
        shipments=tuple(s for s in trace.shipments if s.facility_code in allowed),
        suppliers=tuple(s for s in trace.suppliers if s.facility_code in allowed),
    )


def _visible_keys(trace: Trace, allowed: Collection[str]) -> set[str]:
    """The kit's lots of facilities in scope, and the suppliers' lots delivered to one of them
    (a supplier's lot that is a kit facility's output lot goes by that facility)."""
    shown = {n.key for n in trace.lots if n.kind != SUPPLIER and n.facility_code in allowed}
    for n in trace.lots:
        if n.kind != SUPPLIER:
            continue
        if n.facility_code:
            if n.facility_code in allowed:
                shown.add(n.key)
        elif any(a == n.key and b in shown for a, b in trace.edges):
            shown.add(n.key)
    return shown


def reaches_scope(trace: Trace, allowed: Collection[str] | None) -> bool:
    """Whether any lot of the trace is of a facility in scope."""
    return allowed is None or bool(_visible_keys(trace, allowed))


def lots_in_scope(conn: Connection, scope: Scope, lots: Iterable[str]) -> frozenset[str]:
    """Those of ``lots`` that are a batch's or receipt's lot at a facility in scope."""
    wanted = sorted(set(lots))
    if scope.province or not wanted:
        return frozenset(wanted)
    found: set[str] = set()
    for table in (batches, receipts):
        held = select(table.c.lot).where(
            table.c.lot.in_(wanted), scope.facilities(table.c.facility_code)
        )
        found.update(str(lot) for lot in conn.execute(held).scalars())
    return frozenset(found)
