"""The office's catalog edit reaches the devices through a real Mosquitto: the retained
``config`` topic carries the new catalog (moved from tests/unit/server/test_office_pages.py,
issue 14: unit tests start no broker)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from ocop_cli.broker import Mosquitto
from sync_server.config import ServerMqttConfig
from sync_server.devices.registry import import_catalog, register_device
from sync_server.store.db import create_schema, facilities, open_engine
from tests.unit.server.conftest import CATALOG, DEV
from tests.unit.server.office_client import make_app, officer_client, product_form
from trace_protocol import topics
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def device(engine: Engine) -> str:
    import_catalog(engine, CATALOG, "http://x")
    register_device(engine, DEV, "KC", DeviceKey.generate().public_key_b64)
    return DEV


def test_a_saved_edit_reaches_the_devices_config_topic(
    engine: Engine, device: str, tmp_path: Path, broker: Mosquitto
) -> None:
    app = make_app(engine, tmp_path, mqtt=ServerMqttConfig(port=broker.port, username=""))
    client = officer_client(app, engine)
    form = product_form(client)
    form["name_en"] = "Organic Ngọc Mầm rice"
    assert client.post("/office/catalog/KC/NM", data=form).status_code == 302
    with engine.connect() as conn:
        row = conn.execute(
            select(facilities.c.catalog_version, facilities.c.published_version).where(
                facilities.c.code == "KC"
            )
        ).one()
    assert row.published_version == row.catalog_version
    got: list[bytes] = []
    done = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_connect = lambda c, *a: c.subscribe(topics.build_topic(DEV, topics.CONFIG), qos=1)

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        got.append(bytes(m.payload))
        done.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    try:
        assert done.wait(10), "no retained config"
    finally:
        sub.loop_stop()
        sub.disconnect()
    catalog = json.loads(got[0])
    assert catalog["version"] == row.catalog_version
    assert catalog["products"][0]["name"]["en"] == "Organic Ngọc Mầm rice"
