"""The supply events projected at the server (issue 15), on SQLite and PostgreSQL: receipts,
uses, shipments, corrections and voids; the same tables under resend, duplicates and any
arrival order across ingest workers; ``ocop server reproject`` gives them again."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ocop_cli.main import main
from sync_server.devices.registry import register_device
from sync_server.ingest.commit import ingest_chunks
from sync_server.ingest.replay import reproject, reproject_if_stale, stored_version
from sync_server.ingest.supply_projection import PROJECTION_VERSION, source_lot
from sync_server.store.alerts import open_alerts
from sync_server.store.db import batches
from sync_server.store.supply_tables import (
    corrections,
    input_uses,
    projection_versions,
    receipts,
    shipments,
)
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.bodies import opened_body
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import make_app, officer_client
from tests.unit.server.supply_chain import (
    LINE2,
    Scenario,
    added,
    closed,
    corrected,
    deliver,
    received,
    shipped,
    snapshot,
    uid,
)
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey


@pytest.fixture
def scenario(engine: Engine, device: str, chain: ChainBuilder) -> Scenario:
    key = DeviceKey.generate()
    register_device(engine, LINE2, "KC", key.public_key_b64)
    return Scenario(chain, ChainBuilder(key, LINE2))


def in_order(engine: Engine, streams: dict[str, list[Event]]) -> None:
    """Each device's whole journal in one chunk, one device after the other in dict order."""
    for dev, evs in streams.items():
        ack = ingest_chunks(engine, [(dev, encode_chunk(dev, evs))])[0].ack
        assert ack is not None and ack.error is None and ack.upto == len(evs), dev


def test_supply_events_fill_the_tables_with_current_values(
    engine: Engine, scenario: Scenario
) -> None:
    in_order(engine, scenario.build())
    ids = scenario.ids
    with engine.connect() as conn:
        r = {
            row.receipt_id: row
            for row in conn.execute(select(receipts).order_by(receipts.c.seq)).all()
        }
        uses = conn.execute(select(input_uses).order_by(input_uses.c.dev_id)).all()
        ships = {row.shipment_id: row for row in conn.execute(select(shipments)).all()}
        fixes = conn.execute(select(corrections.c.dev_id, corrections.c.corrects_seq)).all()
        bs = {row.batch_id: row for row in conn.execute(select(batches)).all()}
    # The correction set the receipt's quantity; the journal keeps the original 1000.
    assert r[ids["r1"]].quantity == 1100 and r[ids["r1"]].facility_code == "KC"
    assert r[ids["r1"]].source_lot is None and r[ids["r1"]].supplier_id == "THT-TD"
    assert r[ids["r2"]].source_lot == "CN-MO-240201-01"  # from the scanned Digital Link
    assert [(u.dev_id, u.receipt_lot, u.quantity, u.unit) for u in uses] == [
        (LINE2, "KC-NL-240301-01", 350, "kg"),
        (DEV, "KC-NL-240301-01", 600, "kg"),
        (DEV, "KC-NL-240301-02", 400_000, "g"),
    ]
    s1 = ships[ids["s1"]]
    assert (s1.quantity, s1.serial_first, s1.serial_last, s1.customer_id) == (
        250,
        1,
        250,
        "OCOP-HT",
    )
    assert ships[ids["s2"]].facility_code == "KC" and ships[ids["s2"]].dev_id == LINE2
    assert sorted(fixes) == [(LINE2, 2), (DEV, 1), (DEV, 6), (DEV, 7)]
    assert bs[ids["ba"]].quantity == 620 and bs[ids["ba"]].status == "closed"
    voided = bs[ids["bv"]]
    assert (voided.status, voided.void_reason) == ("voided", "mở nhầm")
    assert voided.voided_at is not None


def test_any_chunking_order_and_duplicates_across_workers_give_the_same_tables(
    engine: Engine, scenario: Scenario
) -> None:
    streams = scenario.build()
    deliver(engine, streams, random.Random(15), workers=3)
    got = snapshot(engine)
    assert len(got["receipts"]) == 2 and len(got["input_uses"]) == 3
    assert len(got["shipments"]) == 2 and len(got["corrections"]) == 4
    # What a replay of the journal makes is the same, twice over (idempotent).
    assert reproject(engine) == len(
        [e for evs in streams.values() for e in evs if e.type != "batch.opened"]
    )
    assert snapshot(engine) == got
    reproject(engine)
    assert snapshot(engine) == got


def test_a_use_may_arrive_before_the_receipt_it_names(engine: Engine, scenario: Scenario) -> None:
    streams = scenario.build()
    reference = dict(reversed(list(streams.items())))  # line 2 (the use) before line 1
    in_order(engine, reference)
    with engine.connect() as conn:
        assert conn.execute(
            select(input_uses.c.receipt_lot).where(input_uses.c.dev_id == LINE2)
        ).all()


def test_reproject_runs_once_when_the_stored_version_is_older(
    engine: Engine, scenario: Scenario
) -> None:
    in_order(engine, scenario.build())
    expected = snapshot(engine)
    with engine.connect() as conn:
        assert stored_version(conn) == PROJECTION_VERSION  # an empty database needs no replay
    assert reproject_if_stale(engine) is None
    # As a database whose events an older server committed: no supply rows, version 0.
    with engine.begin() as conn:
        for table in (corrections, input_uses, shipments, receipts):
            conn.execute(table.delete())
        conn.execute(projection_versions.update().values(version=0))
    assert reproject_if_stale(engine) is not None
    assert snapshot(engine) == expected
    with engine.connect() as conn:
        assert stored_version(conn) == PROJECTION_VERSION
    assert reproject_if_stale(engine) is None


@pytest.mark.parametrize(
    ("source", "lot"),
    [
        ({"url": "https://x.vn/01/08936123450014/10/CN-MO-240201-01?17=250101"}, "CN-MO-240201-01"),
        ({"url": "https://x.vn/l/CN-MO-240201A03"}, "CN-MO-240201A03"),
        (
            {"url": "https://x.vn/01/08936123450014/10/CN-MO-240201A03/21/7?s=abc"},
            "CN-MO-240201A03",
        ),
        ({"url": "https://x.vn/l/CN-MO-240201A03/7?s=abc"}, "CN-MO-240201A03"),
        ({"lot": "KC-NM-240301-01", "gtin": "08936123450014"}, "KC-NM-240301-01"),
        ({"lot": "TD-2024-03"}, None),  # a supplier's own code, not a kit label
        ({"url": "https://shop.example/item/9"}, None),
        (None, None),
    ],
)
def test_source_lot_is_the_kit_label_a_receipt_was_scanned_from(
    source: object, lot: object
) -> None:
    assert source_lot(source) == lot


def test_the_office_shows_a_voided_batch_as_voided(
    engine: Engine, scenario: Scenario, tmp_path: Path
) -> None:
    in_order(engine, scenario.build())
    client = officer_client(make_app(engine, tmp_path), engine)
    page = client.get(f"/office/batches/{DEV}/{scenario.ids['bv']}").get_data(as_text=True)
    assert "Đã hủy (mở nhầm)" in page
    english = client.get(f"/office/batches/{DEV}/{scenario.ids['bv']}?lang=en")
    assert "Voided (opened by mistake)" in english.get_data(as_text=True)


def test_ocop_server_reproject_rebuilds_and_says_how_many_events(
    engine: Engine,
    database_url: str,
    scenario: Scenario,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    in_order(engine, scenario.build())
    expected = snapshot(engine)
    with engine.begin() as conn:
        conn.execute(receipts.delete())
    toml = tmp_path / "server.toml"
    toml.write_text(f'data_dir = "{tmp_path}"\ndatabase_url = "{database_url}"\n', encoding="utf-8")
    assert main(["server", "--config", str(toml), "reproject"]) == 0
    assert "supply projections rebuilt from 14 events" in capsys.readouterr().out
    assert snapshot(engine) == expected


def test_confirmed_overrides_raise_one_office_alert_per_lot(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    """Issue 15: the worker is never blocked for good, but the office is told: a use past a
    receipt's stock, a shipment past what was made, and a correction that goes past either."""
    r1, ba, s1 = uid(), uid(), uid()
    chain.next(se.INPUT_RECEIVED, received(r1, "KC-NL-240301-01", 100))
    chain.next(ev.BATCH_OPENED, opened_body(ba, "KC-NM-240301-01"))
    chain.next(se.INPUT_ADDED, added(ba, r1, "KC-NL-240301-01", 80))
    chain.next(ev.BATCH_CLOSED, closed(ba, 50))
    ship = chain.next(se.LOT_SHIPPED, {**shipped(s1, ba, "KC-NM-240301-01", 60), "override": True})
    chain.next(se.RECORD_CORRECTED, {**corrected(ship, quantity=70), "override": True})
    use = chain.next(se.INPUT_ADDED, {**added(ba, r1, "KC-NL-240301-01", 40), "override": True})
    chain.next(se.RECORD_CORRECTED, {**corrected(use, quantity=45), "override": True})
    in_order(engine, {chain.dev: chain.events})
    with engine.connect() as conn:
        found = [(a["kind"], a["subject"]) for a in open_alerts(conn, dev=chain.dev)]
    # One open alert per kind and lot: the corrections add nothing the office does not know.
    assert sorted(found) == [
        ("ship_override", "KC-NM-240301-01"),
        ("stock_override", "KC-NL-240301-01"),
    ]


def test_a_correction_past_the_stock_alone_is_flagged(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    r1, ba = uid(), uid()
    receipt = chain.next(se.INPUT_RECEIVED, received(r1, "KC-NL-240301-01", 100))
    chain.next(ev.BATCH_OPENED, opened_body(ba, "KC-NM-240301-01"))
    chain.next(se.INPUT_ADDED, added(ba, r1, "KC-NL-240301-01", 80))
    chain.next(se.RECORD_CORRECTED, {**corrected(receipt, quantity=60), "override": True})
    in_order(engine, {chain.dev: chain.events})
    with engine.connect() as conn:
        (alert,) = open_alerts(conn, dev=chain.dev)
    assert (alert["kind"], alert["subject"]) == ("stock_override", "KC-NL-240301-01")
    assert "correction of event #1" in alert["detail"]
