"""Supply events bound to the device's facility (issue 15), on SQLite and PostgreSQL: what is not
the device's to write is quarantined with an alert, and nothing of it is projected."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.binding import BAD_BODY, LOT_TAKEN, UNKNOWN_BATCH, WRONG_FACILITY
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import alerts, quarantine
from sync_server.store.supply_tables import input_uses, receipts, shipments
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.bodies import opened_body
from tests.unit.server.conftest import DEV, REPO
from tests.unit.server.supply_chain import added, corrected, received, shipped, uid
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event
from trace_protocol.messages import Ack, encode_chunk
from trace_protocol.signing import DeviceKey

CN_CATALOG = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"


def send(engine: Engine, dev: str, evs: list[Event]) -> Ack:
    ack = ingest_chunk(engine, dev, encode_chunk(dev, evs)).ack
    assert ack is not None
    return ack


def other(engine: Engine, dev: str, facility: str) -> ChainBuilder:
    key = DeviceKey.generate()
    if facility == "CN":
        import_catalog(engine, CN_CATALOG, "http://x")
    register_device(engine, dev, facility, key.public_key_b64)
    return ChainBuilder(key, dev)


def held(engine: Engine, dev: str) -> list[Any]:
    with engine.connect() as conn:
        codes = conn.execute(
            select(quarantine.c.code, quarantine.c.seq).where(quarantine.c.dev_id == dev)
        )
        kinds = conn.execute(select(alerts.c.kind).where(alerts.c.dev_id == dev))
        return [*codes.all(), *(k[0] for k in kinds)]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_receipt_lot_of_another_facility_is_quarantined(engine: Engine, device: str) -> None:
    cn = other(engine, "cn-line-1", "CN")
    ack = send(
        engine, "cn-line-1", [cn.next(se.INPUT_RECEIVED, received(uid(), "KC-NL-240301-01", 5))]
    )
    assert ack.upto == 0 and ack.error is not None and ack.error.code == WRONG_FACILITY
    assert held(engine, "cn-line-1") == [(WRONG_FACILITY, 1), WRONG_FACILITY]
    assert count(engine, receipts) == 0


def test_a_receiving_lot_given_twice_is_lot_taken(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    send(engine, DEV, [chain.next(se.INPUT_RECEIVED, received(uid(), "KC-NL-240301-01", 5))])
    line2 = other(engine, "kc-line-2", "KC")
    ack = send(
        engine, "kc-line-2", [line2.next(se.INPUT_RECEIVED, received(uid(), "KC-NL-240301-01", 7))]
    )
    assert ack.error is not None and ack.error.code == LOT_TAKEN
    assert count(engine, receipts) == 1


def test_an_output_lot_code_is_not_a_receiving_lot(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    ack = send(engine, DEV, [chain.next(se.INPUT_RECEIVED, received(uid(), "KC-NM-240301-01", 5))])
    assert ack.error is not None and ack.error.code == WRONG_FACILITY


def test_using_another_facilitys_receipt_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    cn = other(engine, "cn-line-1", "CN")
    receipt = uid()
    assert (
        send(
            engine,
            "cn-line-1",
            [cn.next(se.INPUT_RECEIVED, received(receipt, "CN-NL-240301-01", 5))],
        ).error
        is None
    )
    batch = uid()
    ack = send(
        engine,
        DEV,
        [
            chain.next(ev.BATCH_OPENED, opened_body(batch)),
            chain.next(se.INPUT_ADDED, added(batch, receipt, "CN-NL-240301-01", 2)),
        ],
    )
    assert ack.upto == 1 and ack.error is not None and ack.error.code == WRONG_FACILITY
    assert count(engine, input_uses) == 0


def test_a_use_naming_a_receipt_with_another_lot_is_a_bad_body(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    receipt, batch = uid(), uid()
    ack = send(
        engine,
        DEV,
        [
            chain.next(se.INPUT_RECEIVED, received(receipt, "KC-NL-240301-01", 5)),
            chain.next(ev.BATCH_OPENED, opened_body(batch)),
            chain.next(se.INPUT_ADDED, added(batch, receipt, "KC-NL-240301-09", 2)),
        ],
    )
    assert ack.upto == 2 and ack.error is not None and ack.error.code == BAD_BODY


def test_a_use_in_a_batch_of_another_device_is_unknown_batch(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    receipt, batch = uid(), uid()
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(batch))])
    line2 = other(engine, "kc-line-2", "KC")
    ack = send(
        engine,
        "kc-line-2",
        [
            line2.next(se.INPUT_RECEIVED, received(receipt, "KC-NL-240301-01", 5)),
            line2.next(se.INPUT_ADDED, added(batch, receipt, "KC-NL-240301-01", 2)),
        ],
    )
    assert ack.upto == 1 and ack.error is not None and ack.error.code == UNKNOWN_BATCH


def test_shipping_another_facilitys_batch_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    batch = uid()
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(batch))])
    cn = other(engine, "cn-line-1", "CN")
    ack = send(
        engine, "cn-line-1", [cn.next(se.LOT_SHIPPED, shipped(uid(), batch, "KC-NM-240301-01", 3))]
    )
    assert ack.error is not None and ack.error.code == UNKNOWN_BATCH
    assert count(engine, shipments) == 0


def test_a_sibling_device_may_ship_its_facilitys_batch(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    batch = uid()
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(batch))])
    line2 = other(engine, "kc-line-2", "KC")
    ack = send(
        engine,
        "kc-line-2",
        [line2.next(se.LOT_SHIPPED, shipped(uid(), batch, "KC-NM-240301-01", 3))],
    )
    assert ack.error is None and ack.upto == 1
    wrong_lot = line2.next(se.LOT_SHIPPED, shipped(uid(), batch, "KC-NM-240301-07", 3))
    ack = send(engine, "kc-line-2", [wrong_lot])
    assert ack.error is not None and ack.error.code == BAD_BODY


def test_a_correction_must_name_an_earlier_event_of_the_device_exactly(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    first = chain.next(se.INPUT_RECEIVED, received(uid(), "KC-NL-240301-01", 5))
    send(engine, DEV, [first])
    wrong_id = corrected(first, quantity=6)
    wrong_id["corrects"]["id"] = uid()
    ack = send(engine, DEV, [chain.next(se.RECORD_CORRECTED, wrong_id)])
    assert ack.upto == 1 and ack.error is not None and ack.error.code == BAD_BODY
    with engine.connect() as conn:
        assert conn.execute(select(receipts.c.quantity)).scalar() == 5


def test_an_unusable_supply_body_is_a_bad_body(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    body = received(uid(), "KC-NL-240301-01", -5)
    ack = send(engine, DEV, [chain.next(se.INPUT_RECEIVED, body)])
    assert ack.error is not None and ack.error.code == BAD_BODY
    assert "quantity must be a positive number" in ack.error.detail


def test_a_receipt_and_its_use_in_one_chunk_bind(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    receipt, batch = uid(), uid()
    first = chain.next(se.INPUT_RECEIVED, received(receipt, "KC-NL-240301-01", 5))
    ack = send(
        engine,
        DEV,
        [
            first,
            chain.next(ev.BATCH_OPENED, opened_body(batch)),
            chain.next(se.INPUT_ADDED, added(batch, receipt, "KC-NL-240301-01", 2)),
            chain.next(se.RECORD_CORRECTED, corrected(first, quantity=4)),
        ],
    )
    assert ack.error is None and ack.upto == 4
    assert held(engine, DEV) == []
    with engine.connect() as conn:
        assert conn.execute(select(receipts.c.quantity)).scalar() == 4


def test_a_correction_too_long_for_its_column_is_a_bad_body_not_a_stall(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    first = chain.next(se.INPUT_RECEIVED, received(uid(), "KC-NL-240301-01", 5))
    send(engine, DEV, [first])
    ack = send(
        engine, DEV, [chain.next(se.RECORD_CORRECTED, corrected(first, supplier_lot="x" * 41))]
    )
    assert ack.upto == 1 and ack.error is not None and ack.error.code == BAD_BODY
    assert "supplier_lot is at most 40 characters" in ack.error.detail


def test_a_shipment_of_a_batch_id_longer_than_any_batch_is_unknown(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    body = shipped(uid(), "b" * 40, "KC-NM-240301-01", 3)
    ack = send(engine, DEV, [chain.next(se.LOT_SHIPPED, body)])
    assert ack.error is not None and ack.error.code == UNKNOWN_BATCH
