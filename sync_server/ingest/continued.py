"""Hand a continued device's projection over: the rows an old device's events made move to the
device that re-recorded them (issue 16, docs/protocol.md "Unblocking").

A Pi restored from an old backup forks its chain; the office lets it continue under a new
device id, and it re-records its whole journal with ``body.continues = {dev, seq, id}``. For
each *copy* (an event whose original the server already committed) nothing is projected
again: the batch, receipt, use, shipment, correction and photo rows that the original made now
belong to the new device at the copy's seq, so the batch's pages, trace and EPCIS read its
history from one device. The old device's events themselves stay where they are, read-only.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, update

from sync_server.store.db import batches, blob_refs
from sync_server.store.supply_tables import corrections, input_uses, receipts, shipments
from trace_protocol import envelope as ev
from trace_protocol.envelope import Event

_BY_SEQ: tuple[Table, ...] = (receipts, input_uses, shipments, corrections, blob_refs)


def move_projection(conn: Connection, old: str, old_seq: int, copy: Event) -> None:
    """The rows the old device's event ``old_seq`` made become ``copy``'s (its dev and seq)."""
    if copy.type == ev.BATCH_OPENED:
        conn.execute(
            update(batches)
            .where(batches.c.dev_id == old, batches.c.batch_id == str(copy.body["batch"]))
            .values(dev_id=copy.dev)
        )
    for table in _BY_SEQ:
        conn.execute(
            update(table)
            .where(table.c.dev_id == old, table.c.seq == old_seq)
            .values(dev_id=copy.dev, seq=copy.seq)
        )
