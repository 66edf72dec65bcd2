"""What a device's status tells the office: camera trouble, a full disk, a lagging journal.

Only a status signed by the device's key is believed (issue 12, finding 7): any other is
counted and dropped, raises no alert and makes the server send no command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sync_server.config import ServerConfig
from sync_server.ingest.rejects import STATUS, rejects_of
from sync_server.ingest.worker import IngestWorker
from sync_server.store.db import alerts, devices
from tests.unit.server.conftest import DEV
from trace_protocol.signing import DeviceKey
from trace_protocol.status import build_status


def _kinds(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.kind: r.detail for r in conn.execute(select(alerts))}


class Sent:
    """Stands in for the worker's MQTT client: records what it would publish."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.messages.append((topic, payload))


@pytest.fixture
def worker(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IngestWorker:
    w = IngestWorker(engine, ServerConfig(data_dir=tmp_path))
    monkeypatch.setattr(w, "client", Sent())
    return w


def _status(key: DeviceKey, **fields: Any) -> bytes:
    base: dict[str, Any] = {"dev": DEV, "online": True, "at": "2026-11-22T08:00:00+07:00"}
    return build_status(key, **{**base, **fields}).encode()


def test_status_problems_become_alerts_once(
    engine: Engine, device: str, key: DeviceKey, worker: IngestWorker
) -> None:
    worker._record_status(DEV, _status(key, extra={"cameras": {"day-chuyen": {"state": "ok"}}}))
    assert _kinds(engine) == {}
    sick = _status(
        key,
        at="2026-11-22T08:01:00+07:00",
        extra={
            "cameras": {"day-chuyen": {"state": "covered"}, "kho": {"state": "ok"}},
            "periodic_paused_disk_low": True,
        },
    )
    for _ in range(3):
        worker._record_status(DEV, sick)
    assert _kinds(engine) == {"camera": "day-chuyen: covered", "disk_low": "periodic photos paused"}


def test_signed_status_ahead_of_the_server_asks_for_a_resend(
    engine: Engine, device: str, key: DeviceKey, worker: IngestWorker
) -> None:
    worker._record_status(DEV, _status(key, head=5, acked=5))
    assert "server_behind" in _kinds(engine)
    (cmd,) = worker.client.messages  # type: ignore[attr-defined]
    assert cmd[0] == f"ocop/v1/dev/{DEV}/cmd"
    assert json.loads(cmd[1]) == {"v": 1, "cmd": "resend", "from": 1}


def _forgeries(key: DeviceKey) -> list[bytes]:
    other = DeviceKey.generate()
    signed = json.loads(_status(key, head=1_000_000, acked=1_000_000))
    signed["extra"] = {"cameras": {"cam1": {"state": "covered"}}}  # changed after signing
    return [
        # The old unsigned form, as finding 7's attacker sent it.
        json.dumps(
            {"v": 1, "online": True, "at": "2026-11-22T08:00:00+07:00", "acked": 1_000_000}
        ).encode(),
        _status(other, head=1_000_000, acked=1_000_000),  # signed, by another key
        _status(other, extra={"cameras": {"cam1": {"state": "covered"}}}),
        json.dumps(signed).encode(),
        b'{"v":1,"online":true,"extra":{"cameras":{"cam<script>":{"state":"covered"}}}}',
        b"[" * 5000,
        b"\xff\xfe",
    ]


def test_forged_statuses_raise_no_alert_send_no_command_and_are_counted(
    engine: Engine, device: str, key: DeviceKey, worker: IngestWorker
) -> None:
    forged = _forgeries(key)
    for payload in forged:
        worker._record_status(DEV, payload)
    assert _kinds(engine) == {}
    assert worker.client.messages == []  # type: ignore[attr-defined]
    with engine.connect() as conn:
        (row,) = rejects_of(conn, DEV)
        status, heard = conn.execute(
            select(devices.c.status, devices.c.last_heard).where(devices.c.dev_id == DEV)
        ).one()
    assert (row["kind"], row["count"]) == (STATUS, len(forged))
    assert len(row["samples"]) == 3  # the latest few, not one row per message
    assert status is None and heard is None  # nothing of it was believed
