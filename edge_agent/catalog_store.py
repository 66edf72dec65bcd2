"""Keep the newest catalog received on the config topic (or imported) in the journal file."""

from __future__ import annotations

import time

from sqlite_utils import Database

from trace_protocol.catalog import Catalog, CatalogError, decode_catalog


def store_catalog(db: Database, catalog: Catalog) -> bool:
    """Store ``catalog`` unless a newer version is already here; True when stored."""
    current = db.conn.execute("SELECT version FROM catalog WHERE id = 1").fetchone()
    if current and current[0] > catalog.version:
        return False
    db.conn.execute(
        "INSERT INTO catalog (id, version, payload, received_at) VALUES (1, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET version = excluded.version,"
        " payload = excluded.payload, received_at = excluded.received_at",
        (catalog.version, catalog.encode().decode(), time.time()),
    )
    return True


def load_catalog(db: Database) -> Catalog | None:
    row = db.conn.execute("SELECT payload FROM catalog WHERE id = 1").fetchone()
    if row is None:
        return None
    try:
        return decode_catalog(row[0].encode())
    except CatalogError:
        return None
