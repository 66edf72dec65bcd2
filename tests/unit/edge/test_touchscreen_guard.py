"""Touchscreen guards and worker PINs, with the real app on a real journal (issue 12, finding 5)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from edge_agent.agent import Agent, open_agent
from edge_agent.config import ConfigError, UiConfig, load_config
from edge_agent.web import create_app
from edge_agent.web.guard import allowed_hosts, host_name, safe_next
from edge_agent.web.workers import FREE_TRIES, PinThrottle
from tests.unit.edge.conftest import CATALOG
from trace_protocol.catalog import CatalogError, parse_catalog
from trace_protocol.settings import build_section
from trace_protocol.workers import hash_pin, verify_pin

LAN = {"id": "lan", "name": "Nguyễn Thị Lan", "pin": hash_pin("2468", iterations=10_000)}


def test_pins_are_salted_hashes_that_verify() -> None:
    a, b = hash_pin("2468"), hash_pin("2468")
    assert a != b and "2468" not in a and a.startswith("pbkdf2_sha256$100000$")
    assert verify_pin("2468", a) and not verify_pin("2469", a)
    assert not verify_pin("", a) and not verify_pin("2468", "2468")
    for bad in ("123", "123456789", "12a4", "١٢٣٤"):
        with pytest.raises(ValueError):
            hash_pin(bad)


def _catalog(workers: object) -> dict[str, object]:
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    return {**obj, "version": 1, "public_base_url": "http://x", "workers": workers}


def test_the_catalog_carries_hashes_never_pins() -> None:
    catalog = parse_catalog(_catalog([LAN]))
    assert catalog.worker("lan") is not None and list(catalog.to_dict()["workers"]) == [LAN]
    assert parse_catalog(json.loads(catalog.encode())) == catalog
    assert "workers" not in parse_catalog(_catalog(None)).to_dict()
    for bad in (
        [{**LAN, "pin": "2468"}],  # a clear PIN is refused
        [LAN, LAN],
        [{**LAN, "id": "a b"}],
        [{**LAN, "name": " "}],
        [{**LAN, "pin": "pbkdf2_sha256$1$c2FsdHNhbHQ=$" + "A" * 44}],
        {"lan": LAN},
    ):
        with pytest.raises(CatalogError):
            parse_catalog(_catalog(bad))


def test_host_allow_list_and_next() -> None:
    hosts = allowed_hosts(UiConfig(allowed_hosts=("192.168.1.20",)), hostname="kc-line-1")
    assert {"localhost", "127.0.0.1", "::1", "kc-line-1", "kc-line-1.local"} < hosts
    assert "192.168.1.20" in hosts and "0.0.0.0" not in allowed_hosts(UiConfig(host="0.0.0.0"))
    assert host_name("[::1]:8080") == "::1" and host_name("LocalHost.:80") == "localhost"
    assert host_name("evil.example:8080") == "evil.example"
    with pytest.raises(ConfigError):
        build_section(UiConfig, {"allowed_hosts": ["*"]})
    for bad in ("/\t/evil", "//evil", "/\\evil", "\\\\evil", "https://evil", "", "evil", "/a\nb"):
        assert safe_next(bad, "/") == "/", bad
    assert safe_next("/batches/x?step=XAT", "/") == "/batches/x?step=XAT"


def test_wrong_pins_lock_the_worker_with_backoff() -> None:
    throttle = PinThrottle()
    for _ in range(FREE_TRIES - 1):
        throttle.failed("lan", 100.0)
    assert throttle.wait_s("lan", 100.0) == 0
    throttle.failed("lan", 100.0)
    assert throttle.wait_s("lan", 100.0) == 30
    throttle.failed("lan", 100.0)
    assert throttle.wait_s("lan", 100.0) == 60
    assert throttle.wait_s("hung", 100.0) == 0
    throttle.succeeded("lan")
    assert throttle.wait_s("lan", 100.0) == 0


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'device_id = "kc-x"\ndata_dir = "{tmp_path / "data"}"\n[ui]\nworker_idle_min = 1\n',
        encoding="utf-8",
    )
    agent = open_agent(load_config(path), with_sync=False)
    agent.accept_catalog(parse_catalog(_catalog([LAN])))
    return agent


def _token(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def _sign_in(client: FlaskClient) -> str:
    token = _token(client.get("/login?w=lan").get_data(as_text=True))
    form = {"csrf_token": token, "worker": "lan", "pin": "2468", "next": "/"}
    assert client.post("/login", data=form).status_code == 303
    return token


def test_the_worker_is_signed_out_after_the_idle_time(agent: Agent) -> None:
    client = create_app(agent).test_client()
    token = _sign_in(client)
    assert client.get("/").status_code == 200
    with client.session_transaction() as s:
        s["seen"] = int(time.time()) - 61
    r = client.get("/batches/x")
    assert r.status_code == 303 and "expired=1" in r.headers["Location"]
    r = client.post("/batches", data={"product": "NM", "csrf_token": token})
    assert r.status_code == 303 and "/login" in r.headers["Location"]
    assert agent.journal.store.writer.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_a_worker_removed_from_the_catalog_is_signed_out(agent: Agent) -> None:
    client = create_app(agent).test_client()
    _sign_in(client)
    agent.accept_catalog(parse_catalog({**_catalog([{**LAN, "id": "lan2"}]), "version": 2}))
    assert "/login" in client.get("/").headers["Location"]


def test_the_session_key_is_kept_private_and_reused(agent: Agent) -> None:
    create_app(agent)
    secret = agent.config.ui_secret_path
    assert secret.stat().st_mode & 0o777 == 0o600
    before = secret.read_bytes()
    create_app(agent)
    assert secret.read_bytes() == before
