"""Run the kit's real processes for integration tests: server and edge agents as subprocesses."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine

from edge_agent.lot_letter import store_lot_index
from edge_agent.store import open_db
from ocop_cli.broker import free_port, wait_for_port
from sync_server.config import ServerConfig, load_config
from sync_server.devices.enrolment import create_device
from sync_server.devices.enrolment import enrol as server_enrol
from sync_server.devices.registry import assign_lot_index, import_catalog, register_device
from sync_server.service import open_server_engine
from tests.integration.touchscreen import Touchscreen
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

REPO = Path(__file__).resolve().parents[2]
KC_CATALOG = REPO / "ocop_cli" / "data" / "kc-rice.json"


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the process may still be starting
            last_exc = exc
        time.sleep(0.1)
    raise AssertionError(
        f"timed out after {timeout_s}s waiting for {what} (last error: {last_exc})"
    )


@dataclass
class Processes:
    """Every subprocess a test starts; all are killed at the end."""

    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocop_cli.main", *args], stdout=out, stderr=subprocess.STDOUT
        )
        self.running.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class ServerEnv:
    dir: Path
    config_path: Path
    config: ServerConfig
    engine: Engine

    @property
    def base_url(self) -> str:
        return self.config.public_base_url

    def run(self, procs: Processes) -> subprocess.Popen[bytes]:
        proc = procs.start(["server", "--config", str(self.config_path), "run"], self.dir / "log")
        assert wait_for_port(self.config.http.port, 30), "server web app did not start"
        return proc

    def scalar(self, sql: str, *params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).scalar()


def make_server(
    tmp: Path,
    mqtt_port: int,
    extra_toml: str = "",
    database_url: str = "",
    http_toml: str = "",
) -> ServerEnv:
    d = tmp / "server"
    d.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    path = d / "server.toml"
    path.write_text(
        f'data_dir = "{d}"\npublic_base_url = "http://127.0.0.1:{http_port}"\n'
        f'database_url = "{database_url}"\n'
        f"[http]\nport = {http_port}\n{http_toml}"
        f"[mqtt]\nport = {mqtt_port}\nreconnect_max_s = 1\nkeepalive_s = 5\n{extra_toml}",
        encoding="utf-8",
    )
    config = load_config(path)
    engine = open_server_engine(config)
    import_catalog(engine, KC_CATALOG, config.public_base_url)
    return ServerEnv(d, path, config, engine)


@dataclass
class EdgeEnv:
    dev: str
    dir: Path
    config_path: Path
    ui_port: int
    key: DeviceKey

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def journal(self) -> Path:
        return self.dir / "data" / "journal.db"

    @property
    def label_dir(self) -> Path:
        return self.dir / "data" / "labels"

    def run(self, procs: Processes) -> subprocess.Popen[bytes]:
        proc = procs.start(["edge", "--config", str(self.config_path), "run"], self.dir / "log")
        assert wait_for_port(self.ui_port, 30), "edge UI did not start"
        return proc

    def status(self) -> dict[str, Any]:
        resp = requests.get(f"{self.url}/api/status", timeout=5)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def journal_rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.journal, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def touchscreen(self) -> Touchscreen:
        """A browser session on this device's touchscreen (cookies, CSRF token, Origin)."""
        return Touchscreen(self.url)

    def record_step(self, step: str = "XAT") -> None:
        """A worker records ``step`` (no measured fields) in the journal's first batch, through
        the touchscreen's HTTP form."""
        (batch_id,) = self.journal_rows("SELECT batch_id FROM batches LIMIT 1")[0]
        touch = self.touchscreen()
        try:
            r = touch.post(f"/batches/{batch_id}/steps", {"step": step})
        finally:
            touch.close()
        assert r.status_code == 303, r.text

    def acked(self) -> int:
        return int(self.journal_rows("SELECT acked_seq FROM sync_state")[0][0])

    def head(self) -> int:
        return int(self.journal_rows("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])


def make_edge(tmp: Path, dev: str, mqtt_port: int, extra_toml: str = "", **mqtt: Any) -> EdgeEnv:
    d = tmp / dev
    d.mkdir(parents=True, exist_ok=True)
    ui_port = free_port()
    settings = {
        "port": mqtt_port,
        "keepalive_s": 2,
        "ack_timeout_s": 1.0,
        "status_interval_s": 1.0,
        "reconnect_min_s": 1.0,
        "reconnect_max_s": 1.0,
        **mqtt,
    }
    mqtt_toml = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    path = d / "edge.toml"
    path.write_text(
        f'device_id = "{dev}"\ndata_dir = "{d / "data"}"\n'
        f"[ui]\nport = {ui_port}\n[mqtt]\n{mqtt_toml}\n{extra_toml}",
        encoding="utf-8",
    )
    key = DeviceKey.load_or_create(d / "data" / "device-key.pem")
    return EdgeEnv(dev, d, path, ui_port, key)


def enrol(server: ServerEnv, edge: EdgeEnv, public_key: str | None = None) -> None:
    """Register the device's key directly (for brokers without per-device auth), and give it a
    lot letter as enrolment would, so that several KC devices mint distinct lots."""
    register_device(server.engine, edge.dev, "KC", public_key or edge.key.public_key_b64)
    with server.engine.begin() as conn:
        index = assign_lot_index(conn, edge.dev)
    db = open_db(edge.journal)
    try:
        store_lot_index(db, index)
    finally:
        db.conn.close()


def enrol_with_token(
    server: ServerEnv, dev: str, key: DeviceKey, facility: str = "KC", label_key: bytes = b"k" * 32
) -> str:
    """The office's add-device and the device's enrolment, in-process; returns the password."""
    token = create_device(server.engine, dev, facility, ttl_hours=1)
    public = key.public_key_b64
    label = encode_label_key(label_key)
    proof = key.sign(proof_message(dev, facility, token, public, label))
    request = enrol_request(dev, facility, token, public, label, proof)
    return server_enrol(server.engine, request, server.base_url).mqtt_password
