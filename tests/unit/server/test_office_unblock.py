"""The unblock page when the broker is down (issue 16): a 'continue' is recorded, the page says
the device was not told and shows the token with the command a technician runs at the Pi; "send
again" issues a new one-time token (the old one dies) with an audit row, until the new id has
enrolled. tests/integration/test_unblock.py covers the decisions with a real agent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from ocop_cli.broker import free_port
from sync_server.config import ServerMqttConfig
from sync_server.devices.enrolment import EnrolmentError, enrol
from sync_server.ingest.commit import ingest_chunk
from sync_server.ingest.replay import reproject
from sync_server.store.db import alerts, audit_log, batches, devices
from sync_server.store.supply_tables import receipts
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import csrf_of, make_app, officer_client
from tests.unit.server.supply_chain import received, uid
from trace_protocol import supply_events as se
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

NEW = f"{DEV}-r2"


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    # Nothing listens on this port: the broker is down.
    return make_app(
        engine,
        tmp_path,
        public_base_url="http://ocop.test",
        mqtt=ServerMqttConfig(port=free_port()),
    )


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    return officer_client(app, engine)


def _blocked(engine: Engine, code: str = "fork") -> None:
    with engine.begin() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == DEV)
            .values(blocked_code=code, blocked_seq=4, blocked_detail="seq 4 differs")
        )


def _post(client: FlaskClient, path: str, data: dict[str, str]) -> tuple[int, str]:
    page = client.get(f"/office/devices/{DEV}/unblock").get_data(as_text=True)
    resp = client.post(path, data={"csrf": csrf_of(page), **data})
    return resp.status_code, resp.get_data(as_text=True)


def _token(html: str) -> str:
    found = re.search(r'<code id="token">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


def _enrol(engine: Engine, key: DeviceKey, token: str) -> None:
    label = encode_label_key(b"k" * 32)
    proof = key.sign(proof_message(NEW, "KC", token, key.public_key_b64, label))
    enrol(engine, enrol_request(NEW, "KC", token, key.public_key_b64, label, proof), "http://x")


def test_a_continue_not_told_is_sent_again_with_a_new_token(
    client: FlaskClient, engine: Engine, key: DeviceKey
) -> None:
    _blocked(engine)
    status, html = _post(
        client,
        f"/office/devices/{DEV}/unblock",
        {"decision": "continue", "reason": "Pi khôi phục từ bản sao lưu"},
    )
    assert status == 200
    assert 'id="unblock-error"' in html and "không gửi được cho thiết bị" in html
    first = _token(html)
    assert f"ocop edge continue --as {NEW} --token={first}" in html
    assert 'id="resend"' not in html  # the token is on the page already

    page = client.get(f"/office/devices/{DEV}/unblock").get_data(as_text=True)
    assert 'id="resend"' in page and NEW in page and first not in page

    status, html = _post(client, f"/office/devices/{DEV}/unblock/resend", {})
    assert status == 200
    second = _token(html)
    assert second != first
    assert f"ocop edge continue --as {NEW} --token={second}" in html
    assert "không gửi được cho thiết bị" in html  # the broker is still down

    # The first token is dead; the second works, with the old device's key only.
    with pytest.raises(EnrolmentError) as dead:
        _enrol(engine, key, first)
    assert dead.value.code == "expired_token"
    with pytest.raises(EnrolmentError) as other_key:
        _enrol(engine, DeviceKey.generate(), second)
    assert other_key.value.code == "wrong_key"
    _enrol(engine, key, second)

    # Enrolled: nothing pending any more.
    page = client.get(f"/office/devices/{DEV}/unblock").get_data(as_text=True)
    assert 'id="resend"' not in page
    status, html = _post(client, f"/office/devices/{DEV}/unblock/resend", {})
    assert status == 400 and "Không có lệnh tiếp tục nào đang chờ" in html

    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.username, audit_log.c.target, audit_log.c.after).where(
                audit_log.c.action == "device.unblock.resend"
            )
        ).all()
        text = " ".join(str(r) for r in conn.execute(select(audit_log)).all())
    assert [(u, t) for u, t, _ in rows] == [("officer1", DEV)]
    assert rows[0][2]["new_device"] == NEW
    assert first not in text and second not in text  # never a token in the log


def test_send_again_needs_a_pending_continuation(client: FlaskClient, engine: Engine) -> None:
    _blocked(engine, "bad_body")
    page = client.get(f"/office/devices/{DEV}/unblock").get_data(as_text=True)
    assert 'id="resend"' not in page
    status, html = _post(client, f"/office/devices/{DEV}/unblock/resend", {})
    assert status == 400 and "Không có lệnh tiếp tục nào đang chờ" in html
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(audit_log.c.id).where(audit_log.c.action == "device.unblock.resend")
            ).first()
            is None
        )
    assert (
        client.post("/office/devices/nope/unblock/resend", data={"csrf": csrf_of(page)}).status_code
        == 404
    )


def test_an_accepted_bad_batch_opened_keeps_a_batch_its_later_events_bind_to(
    client: FlaskClient, engine: Engine, chain: ChainBuilder
) -> None:
    batch = new_batch_id()
    body = opened_body(batch)
    del body["production_date"]  # a bug on the device
    ingest_chunk(engine, DEV, encode_chunk(DEV, [chain.next("batch.opened", body)]))
    with engine.connect() as conn:
        blocked = conn.execute(
            select(devices.c.blocked_code).where(devices.c.dev_id == DEV)
        ).scalar()
    assert blocked == "bad_body"

    status, _ = _post(
        client,
        f"/office/devices/{DEV}/unblock",
        {"decision": "accept", "reason": "Lỗi phần mềm: thiếu ngày sản xuất"},
    )
    assert status == 200
    with engine.connect() as conn:
        kept = conn.execute(
            select(batches.c.lot, batches.c.public_lot, batches.c.product_code).where(
                batches.c.batch_id == batch
            )
        ).one()
    assert tuple(kept) == (LOT, None, "NM")  # for the office, no public lot

    # The device's next events on that batch bind: committed, no block.
    result = ingest_chunk(
        engine,
        DEV,
        encode_chunk(
            DEV,
            [
                chain.next("step.recorded", step_body(batch)),
                chain.next("batch.closed", {"batch": batch, "quantity": 120, "unit": "kg"}),
            ],
        ),
    )
    assert result.ack is not None and result.ack.upto == 3 and result.ack.error is None
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.blocked_code, devices.c.head_seq).where(devices.c.dev_id == DEV)
        ).one()
        closed = conn.execute(select(batches.c.status).where(batches.c.batch_id == batch)).scalar()
    assert tuple(row) == (None, 3) and closed == "closed"
    assert client.get(f"/office/batches/{DEV}/{batch}").status_code == 200
    assert client.get(f"/l/{LOT}").status_code == 404  # never on the public pages


def test_a_continued_receipt_whose_receiving_lot_is_taken_raises_lot_taken(
    client: FlaskClient, engine: Engine, key: DeviceKey, chain: ChainBuilder
) -> None:
    lot_1, lot_2 = "KC-NL-240301-01", "KC-NL-240301-02"
    first = chain.next(se.INPUT_RECEIVED, received(uid(), lot_1, 1000))
    lost = chain.next(se.INPUT_RECEIVED, received(uid(), lot_2, 500))  # lost with the SD card
    ingest_chunk(engine, DEV, encode_chunk(DEV, [first, lost]))
    # Restored from a backup holding only the first event, the Pi gives lot 2 out again.
    restored = ChainBuilder(key, DEV)
    restored.events.append(first)
    again = restored.next(se.INPUT_RECEIVED, received(uid(), lot_2, 300))
    ingest_chunk(engine, DEV, encode_chunk(DEV, [again]))
    status, html = _post(
        client,
        f"/office/devices/{DEV}/unblock",
        {"decision": "continue", "reason": "Pi khôi phục từ bản sao lưu"},
    )
    assert status == 200
    _enrol(engine, key, _token(html))

    # The continued chain: the first event is a copy, the restored receipt is new.
    chain_2 = ChainBuilder(key, NEW)
    for e in (first, again):
        chain_2.next(e.type, {**e.body, "continues": {"dev": DEV, "seq": e.seq, "id": e.id}})
    result = ingest_chunk(engine, NEW, encode_chunk(NEW, chain_2.events))
    assert result.ack is not None and result.ack.upto == 2 and result.ack.error is None

    with engine.connect() as conn:
        held = conn.execute(
            select(receipts.c.receipt_id, receipts.c.dev_id, receipts.c.lot).order_by(
                receipts.c.lot
            )
        ).all()
        raised = conn.execute(
            select(alerts.c.dev_id, alerts.c.kind, alerts.c.subject, alerts.c.detail).where(
                alerts.c.kind == "lot_taken"
            )
        ).all()
    assert [tuple(r) for r in held] == [
        (first.body["receipt"], NEW, lot_1),  # the copy's row moved to the new id
        (lost.body["receipt"], DEV, lot_2),  # the lost future keeps its lot
    ]
    assert [(d, k, s) for d, k, s, _ in raised] == [(NEW, "lot_taken", lot_2)]
    assert "event 2" in raised[0][3] and again.body["receipt"] in raised[0][3]

    # A replay of the journal projects the same and raises nothing more.
    assert reproject(engine) > 0
    with engine.connect() as conn:
        count = conn.execute(select(alerts.c.id).where(alerts.c.kind == "lot_taken")).all()
    assert len(count) == 1
