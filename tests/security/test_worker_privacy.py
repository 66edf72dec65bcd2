"""Issue 12, finding 5: who did each event (``by``) is for the office, never for consumers.

Events come from a real edge journal (the touchscreen's own domain code, with a signed-in
worker), are ingested into a real server database and read through the real server app.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from sync_server.config import ServerConfig
from sync_server.devices.catalog_edit import load_catalog
from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import create_schema, open_engine
from sync_server.web import create_app
from tests.integration.harness import KC_CATALOG, make_edge
from tests.unit.server.office_client import officer_client
from trace_protocol.catalog import parse_catalog
from trace_protocol.messages import encode_chunk
from trace_protocol.workers import hash_pin, verify_pin

DEV = "kc-line-1"
NAME = "Phạm Thị Worker-7f3a"
BY = {"id": "w7f3a", "name": NAME}


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Engine, str, str]:
    """A batch opened, stepped and closed by a signed-in worker, synced; (engine, batch, lot)."""
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    obj["workers"] = [{**BY, "pin": hash_pin("2468", iterations=10_000)}]
    engine = open_engine("sqlite:///" + str(tmp_path / "s.db"))
    create_schema(engine)
    import_catalog(engine, obj, "http://t.test")
    edge = make_edge(tmp_path, DEV, 1)
    register_device(engine, DEV, "KC", edge.key.public_key_b64)
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    catalog = parse_catalog({**obj, "version": 1, "public_base_url": "http://t.test"})
    agent.accept_catalog(catalog)
    opened = batches.open_batch(agent.journal, catalog, "NM", "", by=BY)
    batch = opened.body["batch"]
    batches.record_step(agent.journal, catalog, batch, "XAT", {}, "", by=BY)
    batches.close_batch(agent.journal, catalog, batch, "800", by=BY)
    events = agent.journal.events_after(0, 100)
    assert all(e.body["by"] == BY for e in events)
    ingest_chunk(engine, DEV, encode_chunk(DEV, events))
    agent.close()
    return engine, batch, str(opened.body["lot"])


@pytest.fixture
def app(synced: tuple[Engine, str, str], tmp_path: Path) -> Flask:
    engine = synced[0]
    return create_app(ServerConfig(data_dir=tmp_path, public_base_url="http://t.test"), engine)


def test_the_office_sees_who_did_each_event(synced: tuple[Engine, str, str], app: Flask) -> None:
    engine, batch, _ = synced
    office = officer_client(app, engine)
    for path in (f"/office/batches/{DEV}/{batch}", f"/office/devices/{DEV}"):
        html = office.get(path).get_data(as_text=True)
        assert "Người làm" in html, path
        assert html.count(f'<td class="by">{NAME}</td>') == 3, path


def test_no_public_page_or_export_names_the_worker(
    synced: tuple[Engine, str, str], app: Flask
) -> None:
    engine, _, lot = synced
    public = app.test_client()
    for path in (f"/l/{lot}", f"/01/08936123450014/10/{lot}", "/f/KC", "/p/KC/NM", "/"):
        resp = public.get(path)
        assert resp.status_code == 200, path
        text = resp.get_data(as_text=True)
        assert NAME not in text and "w7f3a" not in text, path
    office = officer_client(app, engine)
    epcis = office.get("/epcis/events")
    assert epcis.status_code == 200
    assert NAME not in epcis.get_data(as_text=True) and "w7f3a" not in epcis.get_data(as_text=True)


def test_the_office_sets_a_pin_and_only_its_hash_is_kept(
    synced: tuple[Engine, str, str], app: Flask
) -> None:
    engine = synced[0]
    office = officer_client(app, engine)
    page = office.get("/office/catalog/KC/workers").get_data(as_text=True)
    assert NAME in page and "pbkdf2" not in page
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    form = {"csrf": token.group(1), "worker_id": "hoa", "name": "Lê Thị Hoa", "pin": "907153"}
    assert office.post("/office/catalog/KC/workers", data=form).status_code == 302
    assert office.post("/office/catalog/KC/workers", data={**form, "pin": "12"}).status_code == 400
    stored = load_catalog(engine, "KC")
    hoa = next(w for w in stored["workers"] if w["id"] == "hoa")
    assert "907153" not in json.dumps(stored) and verify_pin("907153", hoa["pin"])
    assert parse_catalog({**stored, "public_base_url": "http://t.test"}).worker("hoa")
