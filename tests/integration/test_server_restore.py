"""Issue #3: a server database restored from an old backup gets its missing events back from
the devices, without anyone restarting an agent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, enrol, make_edge, make_server, wait_until
from tests.integration.prefill import prefill

pytestmark = pytest.mark.integration


def _copy_db(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def test_devices_refill_a_server_restored_from_backup(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    head = prefill(edge, 5)
    web = server.run(procs)
    edge.run(procs)
    wait_until(lambda: edge.acked() == head, 20, "the first sync")
    db = server.dir / "server.db"
    _copy_db(db, tmp_path / "backup.db")  # the nightly backup

    for _ in range(4):
        edge.record_step()
    wait_until(lambda: edge.acked() == head + 4, 20, "the day's events to sync")

    # The server's disk dies; the office restores last night's backup.
    web.terminate()
    web.wait(10)
    server.engine.dispose()
    _copy_db(tmp_path / "backup.db", db)  # SQLite's backup API: safe with the WAL
    assert server.scalar("SELECT head_seq FROM devices") == head
    server.run(procs)

    # No new event and no restart at the Pi: the device's status tells the server it is behind.
    wait_until(
        lambda: server.scalar("SELECT head_seq FROM devices") == head + 4,
        30,
        "the server to be refilled",
    )
    ours = dict(edge.journal_rows("SELECT seq, hash FROM events"))
    with server.engine.connect() as conn:
        theirs = dict(conn.exec_driver_sql("SELECT seq, hash FROM events").all())
    assert ours == theirs
    alerts = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocop_cli.main",
            "server",
            "--config",
            str(server.config_path),
            "alerts",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert '"kind": "server_behind"' in alerts
    assert edge.status()["blocked"] is None
