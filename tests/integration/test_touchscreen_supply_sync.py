"""Issue 15 end to end: what the touchscreen records offline (receipt, use with an override,
shipment, correction, void) syncs to a real server, which acks every event and never blocks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import Mosquitto
from tests.integration.harness import (
    Processes,
    ServerEnv,
    enrol,
    make_edge,
    make_server,
    wait_until,
)
from tests.unit.edge.supply_catalog import supply_catalog_obj
from trace_protocol.catalog import parse_catalog

pytestmark = pytest.mark.integration
NHAP = {"step": "NHAP", "v_do_am": "14,5", "v_khoi_luong": "1000", "note": ""}


def test_supply_events_recorded_offline_are_acked_by_the_server(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    broker = broker_factory()
    server: ServerEnv = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    # A newer catalog than the server's seed, so the retained config does not replace it here.
    obj = supply_catalog_obj(1000)
    agent.accept_catalog(parse_catalog({**obj, "public_base_url": server.base_url}))
    agent.close()
    broker.stop()  # the whole shift offline
    server.run(procs)
    edge.run(procs)

    s = edge.touchscreen()
    typed = {"supplier": "THT", "material": "LUA", "supplier_lot": "THT-0301", "quantity": "500"}
    r = s.submit("/receipts/new", "/receipts", typed)
    assert r.status_code == 303, r.text
    (receipt_id,) = edge.journal_rows("SELECT receipt_id FROM receipts")[0]
    r = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    batch = r.headers["Location"].removeprefix(edge.url)
    r = s.post(f"{batch}/inputs", {"receipt": receipt_id, "quantity": "600", "override": "1"})
    assert r.status_code == 303, r.text
    assert s.post(f"{batch}/steps", NHAP).status_code == 303
    assert s.post(f"{batch}/close", {"quantity": "400"}).status_code == 303
    r = s.post(f"{batch}/shipments", {"customer": "OCOP1", "quantity": "100"})
    assert r.status_code == 303, r.text
    (shipped,) = edge.journal_rows("SELECT seq FROM events WHERE type = 'lot.shipped'")[0]
    r = s.post(f"/records/{shipped}/correct", {"quantity": "90", "reason": "Đếm lại thùng"})
    assert r.status_code == 303, r.text
    r = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    other = r.headers["Location"].removeprefix(edge.url)
    assert s.post(f"{other}/void", {"reason": "Mở lô nhầm"}).status_code == 303
    s.close()
    head = edge.head()
    types = {t for (t,) in edge.journal_rows("SELECT DISTINCT type FROM events")}
    assert {
        "input.received",
        "input.added",
        "lot.shipped",
        "record.corrected",
        "batch.voided",
    } <= types

    broker_factory(port=broker.port)
    wait_until(lambda: edge.acked() == head, 40, "the server's ack of every supply event")
    status = edge.status()
    assert status["blocked"] is None
    assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = ?", edge.dev) == head
    bodies = [
        json.loads(b)
        for (b,) in edge.journal_rows("SELECT body FROM events WHERE type = 'input.added'")
    ]
    assert bodies[0]["override"] is True
    # The confirmed override never blocked anything, and the office is told once.
    cli = [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(server.config_path)]
    out = subprocess.run(
        [*cli, "alerts"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    alerts = [json.loads(line) for line in out.splitlines()]
    (receipt_lot,) = edge.journal_rows("SELECT lot FROM receipts")[0]
    flagged = [(a["dev_id"], a["kind"], a["subject"]) for a in alerts]
    assert flagged == [(edge.dev, "stock_override", receipt_lot)]
    assert "600" in alerts[0]["detail"] and receipt_lot in alerts[0]["detail"]
    assert requests.get(f"{edge.url}/api/status", timeout=5).json()["backlog"] == 0
