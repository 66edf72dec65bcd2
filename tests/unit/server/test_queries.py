"""find_batch: a batch's public record, steps in seq order."""

from __future__ import annotations

from sqlalchemy import Engine

from sync_server.consumer.queries import find_batch, recent_batches
from sync_server.ingest.commit import ingest_chunk
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body, step_body
from tests.unit.server.conftest import DEV
from trace_protocol.messages import Ack, encode_chunk

LOT_A = "KC-NM-240301-01"
LOT_B = "KC-NM-240301-02"


def build(chain: ChainBuilder) -> tuple[str, str]:
    a, b = new_batch_id(), new_batch_id()
    chain.next("batch.opened", opened_body(a, LOT_A))  # 1
    chain.next("batch.opened", opened_body(b, LOT_B))  # 2
    chain.next("step.recorded", {**step_body(a, "NHAP", 14.0), "name": "Nhập lúa"})  # 3
    chain.next("step.recorded", step_body(b, "SAY", 50.0))  # 4
    chain.next("step.recorded", {**step_body(a, "SAY", 45.0), "note": "ổn"})  # 5
    chain.next(
        "snapshot.taken",
        {
            "batch": a,
            "sha256": "0" * 64,
            "thumb_sha256": "1" * 64,
            "camera": "c",
            "purpose": "evidence",
        },
    )  # 6: not a step
    chain.next("step.recorded", {**step_body(a, "XAT", 0.0), "name": "Xay xát"})  # 7
    chain.next("batch.closed", {"batch": a, "quantity": 25.0, "unit": "kg"})  # 8
    return a, b


def test_find_batch_returns_its_steps_in_seq_order(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    build(chain)
    # Send out of order inside the chunk: parse_chunk orders by seq.
    # The ack lists the photo files the server still lacks, thumbnails first.
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events[::-1])).ack == Ack(
        upto=8, missing_blobs=["1" * 64, "0" * 64]
    )
    with engine.connect() as conn:
        view = find_batch(conn, LOT_A)
    assert view is not None
    assert [s.seq for s in view.steps] == [3, 5, 7]
    assert [s.name for s in view.steps] == ["Nhập lúa", "Sấy lúa", "Xay xát"]
    assert view.steps[0].values == {"nhiet_do": 14.0}
    assert view.steps[1].units == {"nhiet_do": "°C"}
    assert view.steps[1].labels_en == {"nhiet_do": "Drying temperature"}
    assert view.steps[0].at == chain.events[2].at
    assert (view.lot, view.gtin, view.status, view.quantity) == (
        LOT_A,
        "08936123450014",
        "closed",
        25.0,
    )
    assert view.dev_id == DEV
    assert view.head_hash == chain.events[-1].hash
    assert view.device_blocked is False
    assert view.product["name"] == "Gạo Ngọc Mầm"


def test_find_batch_other_lot_and_filters(engine: Engine, device: str, chain: ChainBuilder) -> None:
    build(chain)
    ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    with engine.connect() as conn:
        b = find_batch(conn, LOT_B)
        assert b is not None
        assert [s.seq for s in b.steps] == [4]
        assert b.status == "open"
        assert find_batch(conn, LOT_A, gtin="08936123450014") is not None
        assert find_batch(conn, LOT_A, gtin="04006381333931") is None
        assert find_batch(conn, "KC-NM-240301-03") is None
        lots = {r["lot"] for r in recent_batches(conn)}
    assert lots == {LOT_A, LOT_B}


def test_find_batch_reports_a_blocked_device(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    build(chain)
    chain.next(prev="cd" * 32)
    ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    with engine.connect() as conn:
        view = find_batch(conn, LOT_A)
    assert view is not None
    assert view.device_blocked is True
    assert [s.seq for s in view.steps] == [3, 5, 7]
