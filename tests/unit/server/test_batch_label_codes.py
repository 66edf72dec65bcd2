"""A batch label printed offline and scanned before its batch synced (issue 15): its signed code
gets the honest "details on their way" page, a forged or unsigned one still "not found", and
once the batch has synced every form of its URL shows the record, old unsigned ones too."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.consumer.unit_check import GENUINE, check_batch_code
from sync_server.devices.enrolment import create_device, enrol
from sync_server.devices.registry import import_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body
from tests.unit.server.conftest import CATALOG
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.links import build_batch_url
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import batch_mac, build_signed_batch_url, encode_label_key

DEV = "kc-line-7"
LOT = "KC-NM-261122-01"
GTIN = "08936123450014"
LABEL_KEY = bytes(range(7, 39))
BASE = "http://t.test"


@pytest.fixture
def enrolled(engine: Engine) -> DeviceKey:
    import_catalog(engine, CATALOG, BASE)
    key = DeviceKey.generate()
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    label = encode_label_key(LABEL_KEY)
    proof = key.sign(proof_message(DEV, "KC", token, key.public_key_b64, label))
    enrol(engine, enrol_request(DEV, "KC", token, key.public_key_b64, label, proof), BASE)
    return key


@pytest.fixture
def client(engine: Engine, enrolled: DeviceKey, tmp_path: Path) -> FlaskClient:
    app = create_app(ServerConfig(data_dir=tmp_path, public_base_url=BASE), engine)
    return app.test_client()


def _path(url: str) -> str:
    return url.removeprefix(BASE)


def _sync(engine: Engine, key: DeviceKey) -> None:
    chain = ChainBuilder(key, DEV)
    chain.next("batch.opened", opened_body(new_batch_id(), LOT))
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events)).committed == 1


def test_the_code_is_checked_against_the_facilitys_label_keys(
    engine: Engine, enrolled: DeviceKey
) -> None:
    with engine.connect() as conn:
        good = check_batch_code(conn, LOT, GTIN, batch_mac(LABEL_KEY, LOT, GTIN))
        assert good is not None and (good.state, good.device) == (GENUINE, DEV)
        assert good.facility_name == "Công ty TNHH MTV KC"
        assert check_batch_code(conn, LOT, GTIN, batch_mac(bytes(32), LOT, GTIN)) is None
        assert check_batch_code(conn, LOT, None, batch_mac(LABEL_KEY, LOT, GTIN)) is None
        assert check_batch_code(conn, LOT, GTIN, None) is None


@pytest.mark.parametrize("gtin", [GTIN, None])
def test_a_signed_label_before_sync_gets_the_honest_page(
    client: FlaskClient, gtin: str | None
) -> None:
    url = build_signed_batch_url(BASE, LOT, batch_mac(LABEL_KEY, LOT, gtin), gtin)
    resp = client.get(_path(url))
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Tem lô chính hãng" in page and "đang được đồng bộ" in page
    assert "Công ty TNHH MTV KC" in page and "22/11/2026" in page
    assert "Gạo Ngọc Mầm" in page and LOT in page
    assert "<script" not in page
    # English too.
    page_en = client.get(_path(url) + "&lang=en").get_data(as_text=True)
    assert "Genuine batch label" in page_en


def test_forged_or_unsigned_codes_stay_not_found_until_sync(
    engine: Engine, enrolled: DeviceKey, client: FlaskClient
) -> None:
    forged = build_signed_batch_url(BASE, LOT, batch_mac(bytes(32), LOT, GTIN), GTIN)
    assert client.get(_path(forged)).status_code == 404
    assert client.get(_path(build_batch_url(BASE, LOT, GTIN))).status_code == 404
    signed = build_signed_batch_url(BASE, LOT, batch_mac(LABEL_KEY, LOT, GTIN), GTIN)
    assert client.get(_path(signed)).status_code == 200

    _sync(engine, enrolled)
    for url in (signed, build_batch_url(BASE, LOT, GTIN), build_batch_url(BASE, LOT)):
        resp = client.get(_path(url))
        assert resp.status_code == 200, url
        page = resp.get_data(as_text=True)
        assert "Tem lô chính hãng" not in page and 'id="record-verdict"' in page
