"""Issue 15: a recall reaches the touchscreen over the real retained ``config`` topic. The server's
catalog (suppliers, customers, materials) arrives, the worker receives a supplier's lot, uses it
and finishes the batch; then the catalog names the supplier's lot as recalled: the home and batch
pages show the banner and the lot made from it can no longer be shipped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import Mosquitto
from sync_server.devices.config_publisher import publish_configs
from sync_server.devices.registry import import_catalog
from tests.integration.harness import (
    Processes,
    ServerEnv,
    enrol,
    make_edge,
    make_server,
    wait_until,
)
from tests.unit.edge.supply_catalog import supply_catalog_obj

pytestmark = pytest.mark.integration
NHAP = {"step": "NHAP", "v_do_am": "14,5", "v_khoi_luong": "1000", "note": ""}


def test_a_recall_in_the_config_topic_shows_and_refuses_shipping(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    broker = broker_factory()
    server: ServerEnv = make_server(tmp_path, broker.port)
    import_catalog(server.engine, supply_catalog_obj(), server.base_url)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    server.run(procs)
    publish_configs(server.engine, server.config)
    edge.run(procs)
    wait_until(
        lambda: (
            "Tổ hợp tác lúa Thống Nhất" in requests.get(f"{edge.url}/receipts/new", timeout=5).text
        ),
        30,
        "the catalog with suppliers over the config topic",
    )

    s = edge.touchscreen()
    typed = {"supplier": "THT", "material": "LUA", "supplier_lot": "THT-0301", "quantity": "500"}
    assert s.submit("/receipts/new", "/receipts", typed).status_code == 303
    (receipt_id,) = edge.journal_rows("SELECT receipt_id FROM receipts")[0]
    r = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    batch = r.headers["Location"].removeprefix(edge.url)
    assert s.post(f"{batch}/inputs", {"receipt": receipt_id, "quantity": "400"}).status_code == 303
    assert s.post(f"{batch}/steps", NHAP).status_code == 303
    assert s.post(f"{batch}/close", {"quantity": "300"}).status_code == 303
    assert s.post(f"{batch}/shipments", {"customer": "OCOP1", "quantity": "10"}).status_code == 303
    assert 'id="recall-banner"' not in s.get("/").text
    (lot,) = edge.journal_rows("SELECT lot FROM batches")[0]

    import_catalog(server.engine, supply_catalog_obj(recalled=["THT-0301"]), server.base_url)
    publish_configs(server.engine, server.config)
    wait_until(lambda: 'id="recall-banner"' in s.get("/").text, 30, "the recall on the home page")
    assert re.search(rf'id="recall-banner".*{lot}', s.get("/").text, re.S)
    assert "THU HỒI" in s.get(batch).text
    head = edge.head()
    refused = s.post(f"{batch}/shipments", {"customer": "NPP", "quantity": "5"})
    assert refused.status_code == 400 and "Lô THT-0301 đang bị thu hồi" in refused.text
    assert edge.head() == head
    s.close()
