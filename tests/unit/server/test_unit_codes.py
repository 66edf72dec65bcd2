"""Signed unit codes on the server: genuine before and after sync; tampering is caught; a serial
that was never printed is flagged; the pages say so in words a consumer understands."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.consumer.unit_check import FORGED, GENUINE, check_unit
from sync_server.devices.enrolment import create_device, enrol
from sync_server.devices.registry import import_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body
from tests.unit.server.conftest import CATALOG
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import build_unit_url, encode_label_key, unit_mac

DEV = "kc-line-4"
LOT = "KC-NM-261122-01"
GTIN = "08936123450014"
LABEL_KEY = bytes(range(100, 132))


@pytest.fixture
def enrolled(engine: Engine) -> DeviceKey:
    import_catalog(engine, CATALOG, "http://t.test")
    key = DeviceKey.generate()
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    label = encode_label_key(LABEL_KEY)
    proof = key.sign(proof_message(DEV, "KC", token, key.public_key_b64, label))
    enrol(engine, enrol_request(DEV, "KC", token, key.public_key_b64, label, proof), "http://t")
    return key


def _verdict(engine: Engine, serial: str, mac: str | None) -> tuple[str, bool | None]:
    with engine.connect() as conn:
        v = check_unit(conn, LOT, serial, GTIN, mac)
    return v.state, v.printed


def _sync_batch_with_run(engine: Engine, key: DeviceKey, first: int, last: int) -> None:
    chain = ChainBuilder(key, DEV)
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch, LOT))
    chain.next(
        "labels.printed",
        {
            "batch": batch,
            "kind": "unit",
            "copies": last - first + 1,
            "serial_from": first,
            "serial_to": last,
            "format": "pdf",
            "printer": "file",
        },
    )
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    assert result.committed == 2


def test_genuine_before_and_after_sync_tampering_caught(
    engine: Engine, enrolled: DeviceKey
) -> None:
    good = unit_mac(LABEL_KEY, LOT, "5", GTIN)
    assert _verdict(engine, "5", good) == (GENUINE, None)  # before sync: genuine, range unknown
    assert _verdict(engine, "6", good)[0] == FORGED  # a serial changed by hand
    assert _verdict(engine, "5", good[:-1] + ("A" if good[-1] != "A" else "B"))[0] == FORGED
    assert _verdict(engine, "5", None)[0] == FORGED
    other_key = unit_mac(bytes(32), LOT, "5", GTIN)  # someone else's key
    assert _verdict(engine, "5", other_key)[0] == FORGED

    _sync_batch_with_run(engine, enrolled, 1, 10)
    assert _verdict(engine, "5", good) == (GENUINE, True)
    # A code made with the real key but for a serial the device never printed.
    assert _verdict(engine, "11", unit_mac(LABEL_KEY, LOT, "11", GTIN)) == (GENUINE, False)


def test_pages_tell_the_consumer(engine: Engine, enrolled: DeviceKey, tmp_path: Path) -> None:
    client: FlaskClient = create_app(
        ServerConfig(data_dir=tmp_path, public_base_url="http://t.test"), engine
    ).test_client()

    def page(serial: str, mac: str) -> str:
        url = build_unit_url("http://t.test", LOT, serial, mac, GTIN).removeprefix("http://t.test")
        resp = client.get(url)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    pending = page("5", unit_mac(LABEL_KEY, LOT, "5", GTIN))
    assert "Mã sản phẩm chính hãng" in pending
    assert "Công ty TNHH MTV KC" in pending and "22/11/2026" in pending
    assert "đang được đồng bộ" in pending
    assert "có thể là hàng giả" in page("5", "AAAAAAAAAAAA")

    _sync_batch_with_run(engine, enrolled, 1, 10)
    synced = page("5", unit_mac(LABEL_KEY, LOT, "5", GTIN))
    assert "Mã sản phẩm chính hãng" in synced and "Gạo Ngọc Mầm" in synced
    never = page("11", unit_mac(LABEL_KEY, LOT, "11", GTIN))
    assert "chưa từng được in" in never
