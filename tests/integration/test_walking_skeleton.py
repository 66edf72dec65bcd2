"""Issue #2 acceptance: one batch from an offline Pi to a consumer's phone, all real parts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from ocop_cli.broker import Mosquitto
from sync_server.devices.config_publisher import publish_configs
from tests.integration.harness import (
    KC_CATALOG,
    EdgeEnv,
    Processes,
    ServerEnv,
    enrol,
    make_edge,
    make_server,
    wait_until,
)

pytestmark = pytest.mark.integration


def _value_for(field: dict[str, object]) -> str:
    low = field.get("min")
    return str((float(low) if isinstance(low, int | float) else 0.0) + 1.5).replace(".", ",")


def _record_batch_through_ui(edge: EdgeEnv, product: dict[str, object]) -> tuple[str, list[str]]:
    """Drive the touchscreen's HTTP forms exactly as its buttons do; returns (batch id, steps)."""
    s = edge.touchscreen()
    resp = s.post("/batches", {"product": str(product["code"])})
    assert resp.status_code == 303, resp.text
    batch_path = resp.headers["Location"].removeprefix(edge.url)
    batch_id = batch_path.rsplit("/", 1)[1]
    names = []
    for step in product["steps"]:  # type: ignore[attr-defined]
        form = {"step": step["code"], "note": "ca sáng, độ ẩm đạt"}
        form.update({f"v_{f['key']}": _value_for(f) for f in step["fields"]})
        r = s.post(f"{batch_path}/steps", form)
        assert r.status_code == 303, r.text
        names.append(step["name"]["vi"])
    page = s.get(batch_path).text
    for name in names:
        assert name in page
    r = s.post(f"{batch_path}/close", {"quantity": "950"})
    assert r.status_code == 303, r.text
    r = s.post(f"{batch_path}/labels", {"copies": "2"})
    assert r.status_code == 303, r.text
    return batch_id, names


def _decode_qr(png: Path) -> str:
    image = cv2.imdecode(np.frombuffer(png.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None and text, f"no QR code found in {png}"
    return str(text)


def test_offline_batch_reaches_the_consumer_page(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    broker = broker_factory()
    server: ServerEnv = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    server.run(procs)
    publish_configs(server.engine, server.config)
    edge.run(procs)
    # The catalog arrives once over the retained config topic while the link is up …
    wait_until(lambda: "Gạo Ngọc Mầm" in requests.get(edge.url, timeout=5).text, 20, "catalog")

    # … then the broker (and so the internet) goes down for the whole shift.
    broker.stop()
    wait_until(lambda: edge.status()["link"] != "connected", 20, "the agent to see the outage")

    product = json.loads(KC_CATALOG.read_text(encoding="utf-8"))["products"][0]
    batch_id, step_names = _record_batch_through_ui(edge, product)
    status = edge.status()
    assert status["head"] == len(step_names) + 3  # opened + steps + closed + labels.printed
    assert status["acked"] == 0

    # The print queue prints in the background; the files appear once it has run.
    pngs = wait_until(lambda: sorted(edge.label_dir.glob("*.png")), 20, "the label PNG")
    assert len(pngs) == 1
    assert wait_until(lambda: list(edge.label_dir.glob("*.pdf")), 20, "the label PDF")
    url = _decode_qr(pngs[0])
    assert url.startswith(server.base_url + "/01/08936123450014/10/KC-NM-")
    lot = url.rsplit("/", 1)[1]
    assert requests.get(url, timeout=5).status_code == 404  # nothing synced yet
    assert server.scalar("SELECT COUNT(*) FROM events") == 0

    # The link comes back: the agent syncs on its own and marks events synced on the ack.
    broker_factory(port=broker.port)
    wait_until(lambda: edge.acked() == status["head"], 30, "the server's ack")
    assert server.scalar("SELECT head_seq FROM devices WHERE dev_id = ?", edge.dev) == edge.head()

    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert lot in page.text
    assert product["name"]["vi"] in page.text
    for name in step_names:
        assert name in page.text
    assert "Bản ghi đã được xác minh" in page.text
    assert "ca sáng" not in page.text  # worker notes are private
    assert batch_id not in page.text
