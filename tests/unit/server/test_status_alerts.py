"""What a device's status tells the office: camera trouble, a full disk, a lagging journal."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from sync_server.config import ServerConfig
from sync_server.db import alerts
from sync_server.worker import IngestWorker
from tests.unit.server.conftest import DEV
from trace_protocol.messages import Status


def _kinds(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.kind: r.detail for r in conn.execute(select(alerts))}


def test_status_problems_become_alerts_once(engine: Engine, device: str, tmp_path: Path) -> None:
    worker = IngestWorker(engine, ServerConfig(data_dir=tmp_path))
    healthy = Status(
        online=True,
        at="2026-11-22T08:00:00+07:00",
        extra={"cameras": {"day-chuyen": {"state": "ok"}}},
    )
    worker._record_status(DEV, healthy.encode())
    assert _kinds(engine) == {}
    sick = Status(
        online=True,
        at="2026-11-22T08:01:00+07:00",
        extra={
            "cameras": {"day-chuyen": {"state": "covered"}, "kho": {"state": "ok"}},
            "periodic_paused_disk_low": True,
        },
    )
    for _ in range(3):
        worker._record_status(DEV, sick.encode())
    assert _kinds(engine) == {"camera": "day-chuyen: covered", "disk_low": "periodic photos paused"}
