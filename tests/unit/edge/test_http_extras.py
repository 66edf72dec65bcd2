"""The touchscreen's /favicon.ico and gzip (issue 13), with PINs on: the icon needs no login."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from edge_agent.agent import Agent, open_agent
from edge_agent.config import load_config
from edge_agent.web import create_app
from tests.integration.harness import KC_CATALOG
from trace_protocol.catalog import parse_catalog
from trace_protocol.workers import hash_pin

GZ = {"Accept-Encoding": "gzip"}


def _agent(tmp_path: Path) -> Agent:
    path = tmp_path / "edge.toml"
    path.write_text(f'device_id = "kc-x"\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    agent = open_agent(load_config(path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    workers = [{"id": "lan", "name": "Nguyễn Thị Lan", "pin": hash_pin("2468")}]
    agent.accept_catalog(
        parse_catalog({**obj, "version": 1, "public_base_url": "http://x", "workers": workers})
    )
    return agent


def test_favicon_and_gzip_on_the_touchscreen(tmp_path: Path) -> None:
    client = create_app(_agent(tmp_path)).test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and (icon.mimetype or "").startswith("image/")
    assert icon.cache_control.max_age is not None and icon.cache_control.max_age >= 86400
    for path in ("/login", "/static/touch.css"):
        plain = client.get(path)
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
        packed = client.get(path, headers=GZ)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data
