"""This device's lot letter index, kept in the journal file: given once, at enrolment.

With it every lot code the device mints carries its own letter (trace_protocol.links.build_lot),
so two devices of one facility never mint the same code offline. A device enrolled before lot
letters, or with a server that predates them, has none and mints the old form; the server then
catches a collision as ``lot_taken`` (docs/protocol.md).
"""

from __future__ import annotations

import time

from sqlite_utils import Database


def store_lot_index(db: Database, index: int) -> None:
    db.conn.execute(
        "INSERT INTO device_lot_index (id, lot_index, received_at) VALUES (1, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET lot_index = excluded.lot_index,"
        " received_at = excluded.received_at",
        (index, time.time()),
    )


def load_lot_index(db: Database) -> int | None:
    row = db.conn.execute("SELECT lot_index FROM device_lot_index WHERE id = 1").fetchone()
    return int(row[0]) if row else None
