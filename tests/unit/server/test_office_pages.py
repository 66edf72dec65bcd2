"""Office pages: the full journal with private fields (escaped), search, catalog edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from sync_server.config import ServerMqttConfig
from sync_server.devices.catalog_edit import load_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import facilities
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import make_app, officer_client, product_form
from trace_protocol.messages import encode_chunk

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    return make_app(engine, tmp_path)


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    return officer_client(app, engine)


def _batch_with_note(engine: Engine, chain: ChainBuilder) -> str:
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch))
    chain.next("step.recorded", {**step_body(batch), "note": "ghi chú nội bộ " + XSS})
    chain.next("batch.closed", {"batch": batch, "quantity": 20.0, "unit": "kg"})
    chain.next(
        "labels.printed",
        {
            "batch": batch,
            "kind": "unit",
            "copies": 5,
            "format": "pdf",
            "printer": "file",
            "serial_from": 1,
            "serial_to": 5,
        },
    )
    ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    return batch


def test_batch_page_shows_the_full_journal_with_the_note_escaped(
    client: FlaskClient, engine: Engine, chain: ChainBuilder
) -> None:
    batch = _batch_with_note(engine, chain)
    html = client.get(f"/office/batches/{DEV}/{batch}").get_data(as_text=True)
    assert "ghi chú nội bộ" in html  # private fields are for the office
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html
    assert "step.recorded" in html and "labels.printed" in html
    assert "1–5" in html  # the print run's serial range


def test_device_and_facility_pages(
    client: FlaskClient, engine: Engine, chain: ChainBuilder
) -> None:
    _batch_with_note(engine, chain)
    device_page = client.get(f"/office/devices/{DEV}").get_data(as_text=True)
    assert "batch.opened" in device_page and "&lt;script&gt;" in device_page
    facility_page = client.get("/office/facilities/KC").get_data(as_text=True)
    assert "Công ty TNHH MTV KC" in facility_page and LOT in facility_page
    assert client.get("/office/facilities/NOPE").status_code == 404
    assert client.get(f"/office/batches/{DEV}/nope").status_code == 404


@pytest.mark.parametrize("query", [LOT, "ngọc mầm", "NM", "Công ty TNHH", "KC"])
def test_search_by_lot_product_or_facility(
    client: FlaskClient, engine: Engine, chain: ChainBuilder, query: str
) -> None:
    _batch_with_note(engine, chain)
    html = client.get("/office/search", query_string={"q": query}).get_data(as_text=True)
    assert f">{LOT}</a>" in html


def test_search_finds_nothing_for_an_unknown_lot(
    client: FlaskClient, engine: Engine, chain: ChainBuilder
) -> None:
    _batch_with_note(engine, chain)
    html = client.get("/office/search", query_string={"q": "XX-NONE"}).get_data(as_text=True)
    assert f">{LOT}</a>" not in html


def test_editing_a_product_bumps_the_catalog_and_keeps_unshown_keys(
    client: FlaskClient, engine: Engine
) -> None:
    before = load_catalog(engine, "KC")
    form = product_form(client)
    assert form["name_vi"] == "Gạo Ngọc Mầm" and form["steps-0-code"] == "NHAP"
    form.update({"name_vi": "Gạo Ngọc Mầm hữu cơ", "ocop_stars": "5"})
    form.update(
        {
            "steps-4-code": "KT",
            "steps-4-name_vi": "Kiểm tra",
            "steps-4-fields-0-key": "ph",
            "steps-4-fields-0-label_vi": "Độ pH",
            "steps-4-fields-0-min": "5,5",
        }
    )
    resp = client.post("/office/catalog/KC/NM", data=form)
    assert resp.status_code == 302
    after = load_catalog(engine, "KC")
    (nm,) = after["products"]
    assert nm["name"]["vi"] == "Gạo Ngọc Mầm hữu cơ" and nm["ocop_stars"] == 5
    assert nm["steps"][-1]["code"] == "KT" and nm["steps"][-1]["fields"][0]["min"] == 5.5
    assert after["version"] == before["version"] + 1
    assert nm["gtin"] == before["products"][0]["gtin"]


def test_a_bad_edit_is_refused_with_the_reason_and_saves_nothing(
    client: FlaskClient, engine: Engine
) -> None:
    before = load_catalog(engine, "KC")
    form = product_form(client)
    form.update({"name_vi": "Tên mới chưa lưu", "ocop_stars": "9"})
    resp = client.post("/office/catalog/KC/NM", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "ocop_stars" in html
    assert 'value="Tên mới chưa lưu"' in html  # the officer's typing is kept
    assert load_catalog(engine, "KC") == before
    form.update({"ocop_stars": "4", "steps-0-fields-0-min": "abc"})
    resp = client.post("/office/catalog/KC/NM", data=form)
    assert resp.status_code == 400 and "a number is needed" in resp.get_data(as_text=True)
    assert load_catalog(engine, "KC") == before


def test_an_edit_with_the_broker_down_is_saved_and_owed(
    engine: Engine, device: str, tmp_path: Path
) -> None:
    from ocop_cli.broker import free_port

    app = make_app(engine, tmp_path, mqtt=ServerMqttConfig(port=free_port(), username=""))
    client = officer_client(app, engine)
    form = product_form(client)
    form["name_en"] = "Saved while offline"
    resp = client.post("/office/catalog/KC/NM", data=form, follow_redirects=True)
    assert "hệ thống sẽ tự gửi lại" in resp.get_data(as_text=True)
    with engine.connect() as conn:
        row = conn.execute(
            select(facilities.c.catalog_version, facilities.c.published_version).where(
                facilities.c.code == "KC"
            )
        ).one()
    assert row.published_version < row.catalog_version
    assert load_catalog(engine, "KC")["products"][0]["name"]["en"] == "Saved while offline"
