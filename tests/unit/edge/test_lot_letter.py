"""The device's lot letter (issue 12, finding 1): kept in the journal file, used in every lot."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from edge_agent.batches import open_batch
from edge_agent.database import open_edge_db
from edge_agent.journal import Journal
from edge_agent.lot_letter import load_lot_index, store_lot_index
from edge_agent.projections import project
from edge_agent.store import open_db
from tests.unit.edge.conftest import FixedClock
from trace_protocol.catalog import Catalog
from trace_protocol.links import parse_lot
from trace_protocol.signing import DeviceKey


def _device(path: Path, dev: str, index: int | None) -> Journal:
    store = open_edge_db(path)
    if index is not None:
        with store.write() as db:
            store_lot_index(db, index)
    return Journal(store, DeviceKey.generate(), dev, FixedClock(), project)


def test_two_devices_of_one_facility_mint_distinct_lots_offline(
    tmp_path: Path, catalog: Catalog
) -> None:
    line1 = _device(tmp_path / "1.db", "kc-line-1", 1)
    line2 = _device(tmp_path / "2.db", "kc-line-2", 2)
    lots1 = [open_batch(line1, catalog, "NM", "").body["lot"] for _ in range(3)]
    lots2 = [open_batch(line2, catalog, "NM", "").body["lot"] for _ in range(3)]
    assert lots1 == ["KC-NM-240301A01", "KC-NM-240301A02", "KC-NM-240301A03"]
    assert lots2 == ["KC-NM-240301B01", "KC-NM-240301B02", "KC-NM-240301B03"]
    parsed = parse_lot(lots2[0])
    assert parsed is not None and parsed.index == 2 and parsed.prefix == "KC"


def test_a_device_without_a_letter_keeps_the_old_form(tmp_path: Path, catalog: Catalog) -> None:
    old = _device(tmp_path / "old.db", "kc-old", None)
    assert open_batch(old, catalog, "NM", "").body["lot"] == "KC-NM-240301-01"
    assert open_batch(old, catalog, "NM", "").body["lot"] == "KC-NM-240301-02"


def test_the_letter_survives_reopening_and_is_not_a_projection(
    tmp_path: Path, db: Database
) -> None:
    assert load_lot_index(db) is None
    store_lot_index(db, 5)
    store_lot_index(db, 6)
    assert load_lot_index(db) == 6
    path = tmp_path / "again.db"
    first = open_db(path)
    store_lot_index(first, 3)
    first.conn.close()
    again = open_db(path)
    assert load_lot_index(again) == 3
    again.conn.close()
