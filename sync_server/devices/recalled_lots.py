"""Tell facilities their lots under recall (issue 15): each facility's catalog carries
``recalled_lots``, the output and receiving lots of its own that active recalls cover.

A change bumps the catalog version like an office edit, so
:func:`sync_server.devices.catalog_edit.publish_pending` puts it on the devices' retained config
topic (now, and again once a minute until the broker confirms). The touchscreen shows the recall
and refuses to ship those lots (edge side, driven by ``catalog.recalled_lots``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine, select

from sync_server.devices.registry import store_catalog
from sync_server.store.db import batches, facilities
from sync_server.store.supply_tables import recall_lots, recalls, receipts


def recalled_lots_by_facility(conn: Connection) -> dict[str, list[str]]:
    """Each facility's own lots covered by an active recall, sorted."""
    active = select(recalls.c.id).where(recalls.c.lifted_at.is_(None))
    covered = select(recall_lots.c.lot, recall_lots.c.kind).where(
        recall_lots.c.recall_id.in_(active)
    )
    rows = conn.execute(covered).all()
    out: dict[str, set[str]] = defaultdict(set)
    outputs = sorted({lot for lot, kind in rows if kind == "output"})
    received = sorted({lot for lot, kind in rows if kind == "receipt"})
    if outputs:
        for code, lot in conn.execute(
            select(batches.c.facility_code, batches.c.public_lot).where(
                batches.c.public_lot.in_(outputs)
            )
        ):
            out[code].add(lot)
    if received:
        for code, lot in conn.execute(
            select(receipts.c.facility_code, receipts.c.lot).where(receipts.c.lot.in_(received))
        ):
            out[code].add(lot)
    return {code: sorted(lots) for code, lots in out.items()}


def update_recalled_lots(engine: Engine, base_url: str) -> list[str]:
    """Write each facility's ``recalled_lots`` into its catalog where it changed (a new
    version); returns the facilities changed. Lifted recalls leave the lists too."""
    with engine.connect() as conn:
        want = recalled_lots_by_facility(conn)
        stored = conn.execute(select(facilities.c.code, facilities.c.catalog)).all()
    changed = []
    for code, catalog in stored:
        lots = want.get(code, [])
        if list(catalog.get("recalled_lots", [])) == lots:
            continue
        new: dict[str, Any] = {
            k: v for k, v in catalog.items() if k not in ("version", "v", "recalled_lots")
        }
        if lots:
            new["recalled_lots"] = lots
        # No audit row of its own: the recall or lift that caused it has one.
        with engine.begin() as conn:
            store_catalog(conn, new, base_url)
        changed.append(code)
    return changed
