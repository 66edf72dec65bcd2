"""Issue #3: rewritten history from a real agent is quarantined, alerted and shown.

A fork is what a Pi restored from an old SD-card backup produces: it writes new events at seqs
the server already holds, signed by its key: quarantined, and sync is blocked. A damaged journal
row, resent after a lost ack, no longer matches its hash: since issue 12 (finding 2) that is
not provably the device's (anyone can copy a committed hash and signature onto other content),
so it is counted and alerted as forged, the server keeps its good copy, and sync goes on.
(Chain breaks and bad signatures: test_quarantine.py and the unit tests.)
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, enrol, make_edge, make_server, wait_until
from tests.integration.prefill import prefill

pytestmark = pytest.mark.integration


def _alerts(config_path: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(config_path), "alerts"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.mark.parametrize("damage", ["restored_from_old_backup", "corrupted_row"])
def test_rewritten_history_is_refused_and_the_office_told(
    tmp_path: Path, broker: Mosquitto, procs: Processes, damage: str
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    prefill(edge, 3)  # seq 1..4
    backup = tmp_path / "backup.db"
    shutil.copy(edge.journal, backup)
    prefill_more = 2
    server.run(procs)
    agent = edge.run(procs)
    for _ in range(prefill_more):
        edge.record_step()
    wait_until(lambda: edge.status()["acked"] == 6, 20, "the first sync")
    agent.terminate()
    agent.wait(10)

    if damage == "restored_from_old_backup":
        for suffix in ("-wal", "-shm"):
            Path(str(edge.journal) + suffix).unlink(missing_ok=True)
        shutil.copy(backup, edge.journal)
        expected = ("fork", 5)
    else:
        conn = sqlite3.connect(edge.journal)
        conn.execute("UPDATE events SET prev = ? WHERE seq = 6", ("ab" * 32,))
        # Make seq 6 unsynced again so that the agent sends it (as after a lost ack).
        conn.execute("UPDATE sync_state SET acked_seq = 5")
        conn.commit()
        conn.close()
        assert server.scalar("SELECT head_seq FROM devices") == 6
        # The server holds the good seq 6; the resent copy no longer matches its own hash.
        expected = ("bad_hash", 6)

    edge.run(procs)
    edge.record_step()
    if damage == "corrupted_row":
        wait_until(lambda: edge.status()["acked"] == 7, 20, "the next step to sync")
        assert edge.status()["blocked"] is None
        assert server.scalar("SELECT last_code FROM device_rejects WHERE kind = 'forged'") == (
            "bad_hash"
        )
        assert server.scalar("SELECT COUNT(*) FROM quarantine") == 0
        # The server's seq 6 is still the good one: nothing rewrote it.
        (good,) = edge.journal_rows("SELECT hash FROM events WHERE seq = 6")[0]
        assert server.scalar("SELECT hash FROM events WHERE seq = 6") == good
        assert server.scalar("SELECT prev FROM events WHERE seq = 6") != "ab" * 32
        assert '"kind": "forged_traffic"' in _alerts(server.config_path)
        return
    blocked = wait_until(lambda: edge.status()["blocked"], 20, "sync to be blocked")
    assert (blocked["code"], blocked["seq"]) == expected
    page = requests.get(edge.url, timeout=5).text
    assert "Đồng bộ bị chặn — liên hệ văn phòng OCOP" in page
    assert expected[0] in page
    assert server.scalar("SELECT COUNT(*) FROM quarantine WHERE code = ?", expected[0]) == 1
    assert server.scalar("SELECT head_seq FROM devices") == 6  # history not rewritten
    alerts = _alerts(server.config_path)
    assert f'"kind": "{expected[0]}"' in alerts
    if damage == "restored_from_old_backup":
        # The restored agent's status says its journal ends before the server's copy does.
        assert '"kind": "journal_behind"' in alerts
