"""Events bound to the device's registered facility, lot letter and batches (issue 12, #1).

In-process, on SQLite and PostgreSQL; tests/security/test_facility_binding.py replays the
attack against real processes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from sync_server.consumer.queries import find_batch, recent_batches
from sync_server.devices.enrolment import create_device, enrol
from sync_server.devices.registry import (
    RegistryError,
    assign_lot_index,
    import_catalog,
    register_device,
)
from sync_server.ingest.binding import LOT_TAKEN, UNKNOWN_BATCH, WRONG_FACILITY
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import alerts, batches, create_schema, devices, open_engine, quarantine
from sync_server.store.migrations.versions.r0001_baseline import BASELINE
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import CATALOG, DEV, REPO
from trace_protocol import envelope as ev
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.envelope import Event
from trace_protocol.messages import Ack, encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key, new_label_key

CN_CATALOG = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"
CN_DEV = "cn-line-1"


def send(engine: Engine, dev: str, evs: list[Event]) -> Ack:
    ack = ingest_chunk(engine, dev, encode_chunk(dev, evs)).ack
    assert ack is not None
    return ack


@pytest.fixture
def cn(engine: Engine, device: str) -> ChainBuilder:
    """A device of facility CN, registered next to KC's ``device``."""
    import_catalog(engine, CN_CATALOG, "http://x")
    key = DeviceKey.generate()
    register_device(engine, CN_DEV, "CN", key.public_key_b64)
    return ChainBuilder(key, CN_DEV)


def kc_batch(engine: Engine, chain: ChainBuilder, lot: str = LOT) -> str:
    batch = new_batch_id()
    ack = send(
        engine,
        DEV,
        [
            chain.next(ev.BATCH_OPENED, opened_body(batch, lot)),
            chain.next(ev.STEP_RECORDED, step_body(batch)),
        ],
    )
    assert ack.error is None
    return batch


def refused(engine: Engine, dev: str) -> list[Any]:
    with engine.connect() as conn:
        q = conn.execute(
            select(quarantine.c.code, quarantine.c.seq).where(quarantine.c.dev_id == dev)
        )
        return list(q.all())


def alert_kinds(engine: Engine, dev: str) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(alerts.c.kind).where(alerts.c.dev_id == dev))]


def test_a_batch_naming_another_facility_is_quarantined(
    engine: Engine, chain: ChainBuilder, cn: ChainBuilder
) -> None:
    kc_batch(engine, chain)
    body = opened_body(new_batch_id(), "KC-NM-240302-01")  # facility KC, from a CN device
    ack = send(engine, CN_DEV, [cn.next(ev.BATCH_OPENED, body)])
    assert ack.error is not None and ack.error.code == WRONG_FACILITY and ack.upto == 0
    assert refused(engine, CN_DEV) == [(WRONG_FACILITY, 1)]
    assert alert_kinds(engine, CN_DEV) == [WRONG_FACILITY]
    with engine.connect() as conn:
        assert (
            conn.execute(select(devices.c.blocked_code).where(devices.c.dev_id == CN_DEV)).scalar()
            == WRONG_FACILITY
        )
        shown = find_batch(conn, LOT)
        assert find_batch(conn, "KC-NM-240302-01") is None
    assert shown is not None and shown.dev_id == DEV and shown.facility["code"] == "KC"


def test_a_lot_with_another_facilitys_prefix_is_quarantined(
    engine: Engine, device: str, cn: ChainBuilder
) -> None:
    body = opened_body(new_batch_id(), "KC-NM-240305-01")
    body["facility"] = {"code": "CN", "name": "Cường Nga"}  # honest facility, squatted lot
    ack = send(engine, CN_DEV, [cn.next(ev.BATCH_OPENED, body)])
    assert ack.error is not None and ack.error.code == WRONG_FACILITY
    assert "KC's code" in ack.error.detail or "facility KC" in ack.error.detail


def test_a_lot_another_device_opened_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    kc_batch(engine, chain)
    other_key = DeviceKey.generate()
    register_device(engine, "kc-line-2", "KC", other_key.public_key_b64)
    line2 = ChainBuilder(other_key, "kc-line-2")
    # The same facility, the same lot code (before lot letters two Pis minted these offline).
    ack = send(engine, "kc-line-2", [line2.next(ev.BATCH_OPENED, opened_body(new_batch_id()))])
    assert ack.error is not None and ack.error.code == LOT_TAKEN
    assert "kc-test-1" in ack.error.detail
    assert alert_kinds(engine, "kc-line-2") == [LOT_TAKEN]


def test_a_lot_opened_twice_in_one_chunk_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    first, second = new_batch_id(), new_batch_id()
    ack = send(
        engine,
        DEV,
        [
            chain.next(ev.BATCH_OPENED, opened_body(first)),
            chain.next(ev.BATCH_OPENED, opened_body(second)),
        ],
    )
    assert ack.upto == 1 and ack.error is not None and ack.error.code == LOT_TAKEN


def test_a_lot_letter_of_another_device_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    with engine.begin() as conn:
        assert assign_lot_index(conn, DEV) == 1  # "A"
    ack = send(
        engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(new_batch_id(), "KC-NM-240301B01"))]
    )
    assert ack.error is not None and ack.error.code == LOT_TAKEN


def test_own_letter_and_old_form_are_accepted(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    with engine.begin() as conn:
        assign_lot_index(conn, DEV)
    ack = send(
        engine,
        DEV,
        [
            chain.next(ev.BATCH_OPENED, opened_body(new_batch_id(), "KC-NM-240301A01")),
            chain.next(ev.BATCH_OPENED, opened_body(new_batch_id(), "KC-NM-240301-01")),
        ],
    )
    assert ack.error is None and ack.upto == 2


@pytest.mark.parametrize("kind", [ev.STEP_RECORDED, ev.BATCH_CLOSED, ev.LABELS_PRINTED])
def test_an_event_naming_another_devices_batch_is_quarantined(
    engine: Engine, chain: ChainBuilder, cn: ChainBuilder, kind: str
) -> None:
    real = kc_batch(engine, chain)
    body: dict[str, Any] = {
        ev.STEP_RECORDED: step_body(real),
        ev.BATCH_CLOSED: {"batch": real, "quantity": 1.0, "unit": "kg"},
        ev.LABELS_PRINTED: {"batch": real, "copies": 1, "kind": "batch"},
    }[kind]
    ack = send(engine, CN_DEV, [cn.next(kind, body)])
    assert ack.error is not None and ack.error.code == UNKNOWN_BATCH
    with engine.connect() as conn:
        shown = find_batch(conn, LOT)
    assert shown is not None and shown.status == "open" and len(shown.steps) == 1


def test_a_batch_id_opened_twice_is_a_bad_body_not_a_stuck_device(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    batch = new_batch_id()
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(batch))])
    ack = send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(batch, "KC-NM-240301-02"))])
    assert ack.error is not None and ack.error.code == "bad_body" and ack.upto == 1


def test_consumers_see_the_registry_facility_and_server_order(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    first = new_batch_id()
    body = opened_body(first, "KC-NM-240301-01")
    del body["facility"]  # a body need not name its facility: the registry does
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, body)])
    time.sleep(0.01)
    send(engine, DEV, [chain.next(ev.BATCH_OPENED, opened_body(new_batch_id(), "KC-NM-240301-02"))])
    with engine.connect() as conn:
        shown = find_batch(conn, "KC-NM-240301-01")
        listed = [b["lot"] for b in recent_batches(conn)]
    assert shown is not None and shown.facility["name"] == "Công ty TNHH MTV KC"
    assert listed == ["KC-NM-240301-02", "KC-NM-240301-01"]


def test_lot_letters_are_per_facility_and_never_reused(engine: Engine, device: str) -> None:
    import_catalog(engine, CN_CATALOG, "http://x")
    for dev, facility in (("kc-line-2", "KC"), ("cn-line-1", "CN"), ("kc-line-3", "KC")):
        register_device(engine, dev, facility, DeviceKey.generate().public_key_b64)
    with engine.begin() as conn:
        for dev in (DEV, "kc-line-2", "cn-line-1", "kc-line-3", DEV):
            assign_lot_index(conn, dev)
        got = dict(conn.execute(select(devices.c.dev_id, devices.c.lot_index)).all())
    assert got == {DEV: 1, "kc-line-2": 2, "cn-line-1": 1, "kc-line-3": 3}
    register_device(engine, "kc-line-4", "KC", DeviceKey.generate().public_key_b64)
    with engine.begin() as conn:  # by hand, no letter: it cannot be told one
        assert (
            conn.execute(
                select(devices.c.lot_index).where(devices.c.dev_id == "kc-line-4")
            ).scalar()
            is None
        )
        for i in range(4, 25):
            dev = f"kc-extra-{i}"
            conn.execute(
                insert(devices).values(dev_id=dev, facility_code="KC", registered_at=0, head_seq=0)
            )
            assert assign_lot_index(conn, dev) == i
        conn.execute(
            insert(devices).values(
                dev_id="kc-extra-25", facility_code="KC", registered_at=0, head_seq=0
            )
        )
        with pytest.raises(RegistryError, match="all 24 lot letters"):
            assign_lot_index(conn, "kc-extra-25")


def test_enrolment_hands_the_device_its_lot_letter(engine: Engine, device: str) -> None:
    token = create_device(engine, "kc-line-2", "KC", 1)
    key, label = DeviceKey.generate(), encode_label_key(new_label_key())
    proof = key.sign(proof_message("kc-line-2", "KC", token, key.public_key_b64, label))
    done = enrol(
        engine,
        enrol_request("kc-line-2", "KC", token, key.public_key_b64, label, proof),
        "http://x",
    )
    assert done.lot_index == 1  # the KC device registered by hand has none


def _baseline_with_duplicates(url: str) -> Engine:
    """A database of revision 0001 holding what the old code let in: one lot twice in KC, and a
    CN device's batch that names KC."""
    engine = open_engine(url)
    BASELINE.create_all(engine)
    t = BASELINE.tables
    cat = json.loads(CATALOG.read_text(encoding="utf-8"))
    with engine.begin() as conn:
        for code in ("KC", "CN"):
            conn.execute(insert(t["facilities"]).values(code=code, name=code, catalog=cat))
        for dev, fac in (("kc-1", "KC"), ("kc-2", "KC"), ("cn-1", "CN")):
            conn.execute(
                insert(t["devices"]).values(
                    dev_id=dev, facility_code=fac, registered_at=0, head_seq=1
                )
            )
        rows = [
            # (dev, batch, lot, claimed facility, committed at, device opened_at)
            ("kc-2", "b-kc2", "KC-NM-261204-01", "KC", 20.0, "2026-12-04T08:00:00+07:00"),
            ("kc-1", "b-kc1", "KC-NM-261204-01", "KC", 10.0, "2026-12-04T07:00:00+07:00"),
            ("cn-1", "b-cn", "KC-NM-261205-01", "KC", 5.0, "2099-01-01T00:00:00+07:00"),
            ("kc-1", "b-kc3", "KC-NM-261205-02", "KC", 30.0, "2026-12-05T07:00:00+07:00"),
        ]
        for seq, (dev, batch, lot, fac, received, at) in enumerate(rows, start=1):
            conn.execute(
                insert(t["events"]).values(
                    dev_id=dev,
                    seq=seq,
                    id=batch,
                    type=ev.BATCH_OPENED,
                    at=at,
                    clock="synced",
                    body={},
                    hash="0" * 64,
                    sig="s",
                    batch_id=batch,
                    received_at=received,
                )
            )
            conn.execute(
                insert(t["batches"]).values(
                    dev_id=dev,
                    batch_id=batch,
                    lot=lot,
                    facility_code=fac,
                    product_code="NM",
                    product={"name": "x"},
                    facility={"code": fac, "name": fac},
                    production_date="2026-12-04",
                    opened_at=at,
                    status="open",
                )
            )
    return engine


def test_migration_keeps_one_batch_per_lot_and_alerts_on_the_rest(database_url: str) -> None:
    engine = _baseline_with_duplicates(database_url)
    try:
        create_schema(engine)
        with engine.connect() as conn:
            got = {
                r.batch_id: (r.public_lot, r.facility_code, r.received_at)
                for r in conn.execute(select(batches))
            }
            raised = sorted(
                conn.execute(select(alerts.c.dev_id, alerts.c.kind, alerts.c.subject)).all()
            )
            shown = find_batch(conn, "KC-NM-261204-01")
        assert got == {
            "b-kc1": ("KC-NM-261204-01", "KC", 10.0),  # first committed keeps the lot
            "b-kc2": (None, "KC", 20.0),  # kept for the office, hidden from consumers
            "b-cn": (None, "CN", 5.0),  # named KC from a CN device: hidden, registry facility
            "b-kc3": ("KC-NM-261205-02", "KC", 30.0),
        }
        assert raised == [
            ("cn-1", WRONG_FACILITY, "KC-NM-261205-01"),
            ("kc-2", LOT_TAKEN, "KC-NM-261204-01"),
        ]
        assert shown is not None and shown.dev_id == "kc-1"
    finally:
        engine.dispose()
