"""Issue 16 acceptance: a blocked real agent is unblocked through the office's page and syncs
again with nothing lost (docs/protocol.md, "Unblocking").

- A Pi restored from an old backup forks its chain and is blocked; the office decides that it
  continues under a new identity; the agent, told on its cmd topic, enrols as ``…-r2`` with its
  own key, re-records its journal and syncs: every event of both chains is on the server, the
  batch opened before the fork is the new id's, and the restored Pi's batch whose lot the lost
  future had already used is kept without a public lot, with an alert.
- A device blocked for a bad body is accepted through the page and resumes.

The office is the real server's Flask app (the same config and database as the running server
process), driven with a logged-in test client; the agent and the server run as processes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import Mosquitto, free_port
from sync_server.web import create_app
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
from tests.unit.server.office_client import csrf_of, officer_client
from trace_protocol.catalog import parse_catalog

pytestmark = pytest.mark.integration


def _record(edge: EdgeEnv, base_url: str, *, new_batch: bool, steps: int) -> None:
    """Record in the journal in-process, the agent stopped (as prefill does)."""
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    try:
        catalog = agent.catalog()
        if catalog is None:
            obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
            catalog = parse_catalog({**obj, "version": 1, "public_base_url": base_url})
            agent.accept_catalog(catalog)
        if new_batch:
            batch = str(batches.open_batch(agent.journal, catalog, "NM", "").body["batch"])
        else:
            with agent.journal.store.read() as db:
                batch = str(db.conn.execute("SELECT batch_id FROM batches LIMIT 1").fetchone()[0])
        for _ in range(steps):
            batches.record_step(agent.journal, catalog, batch, "XAT", {}, "")
    finally:
        agent.close()


def _office(server: ServerEnv) -> FlaskClient:
    app = create_app(server.config, server.engine)
    return officer_client(app, server.engine)


def _decide(office: FlaskClient, dev: str, decision: str, reason: str) -> str:
    page = office.get(f"/office/devices/{dev}/unblock")
    assert page.status_code == 200
    resp = office.post(
        f"/office/devices/{dev}/unblock",
        data={"csrf": csrf_of(page.get_data(as_text=True)), "decision": decision, "reason": reason},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    return html


def _rows(server: ServerEnv, sql: str, *params: Any) -> list[Any]:
    with server.engine.connect() as conn:
        return list(conn.exec_driver_sql(sql, params).all())


def test_restored_pi_continues_under_a_new_identity_with_nothing_lost(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    _record(edge, server.base_url, new_batch=True, steps=3)  # seq 1..4
    backup = tmp_path / "backup.db"
    shutil.copy(edge.journal, backup)
    # What happens next on the Pi is lost with the SD card: a second batch and a step.
    _record(edge, server.base_url, new_batch=True, steps=1)  # seq 5, 6
    (lost_lot,) = edge.journal_rows("SELECT lot FROM batches ORDER BY opened_seq DESC LIMIT 1")[0]
    server.run(procs)
    agent = edge.run(procs)
    wait_until(lambda: edge.acked() == 6, 30, "the first sync")
    lost = _rows(server, "SELECT seq, id, hash FROM events WHERE dev_id = 'kc-line-1'")
    agent.terminate()
    agent.wait(10)

    # The Pi is restored from the old backup and goes on working: it opens "the next" batch,
    # which gets the lot the lost future had already used, and records steps.
    for suffix in ("-wal", "-shm"):
        Path(str(edge.journal) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, edge.journal)
    _record(edge, server.base_url, new_batch=True, steps=2)  # seq 5', 6', 7'
    restored = edge.journal_rows("SELECT seq, id, type FROM events ORDER BY seq")
    (reused_lot,) = edge.journal_rows("SELECT lot FROM batches ORDER BY opened_seq DESC LIMIT 1")[0]
    assert reused_lot == lost_lot
    edge.run(procs)
    blocked = wait_until(lambda: edge.status()["blocked"], 30, "sync to be blocked")
    assert (blocked["code"], blocked["seq"]) == ("fork", 5)

    # The office looks at the evidence and decides.
    office = _office(server)
    device_page = office.get("/office/devices/kc-line-1").get_data(as_text=True)
    assert "/office/devices/kc-line-1/unblock" in device_page
    evidence = office.get("/office/devices/kc-line-1/unblock").get_data(as_text=True)
    assert 'data-seq="5"' in evidence
    assert reused_lot in evidence and lost_lot in evidence  # both branches' batch.opened
    assert 'id="decide-continue"' in evidence and 'id="decide-accept"' not in evidence
    decided = _decide(office, "kc-line-1", "continue", "Pi khôi phục từ bản sao lưu cũ")
    assert 'id="new-device">kc-line-1-r2<' in decided

    # The agent hears the command, enrols as kc-line-1-r2, re-records and syncs from seq 1.
    head = len(restored)
    wait_until(
        lambda: (
            _rows(server, "SELECT head_seq FROM devices WHERE dev_id = 'kc-line-1-r2'")[0][0]
            == head
        ),
        60,
        "the new identity's chain to be committed",
    )
    wait_until(lambda: edge.status()["acked"] == head, 30, "the agent to see its acks")
    assert edge.status()["blocked"] is None
    assert (edge.dir / "data" / "device-id").read_text().strip() == "kc-line-1-r2"
    assert (edge.dir / "data" / "journal-kc-line-1.db").exists()

    # Nothing lost: the old chain, lost future included, is still there under the old id …
    assert _rows(server, "SELECT seq, id, hash FROM events WHERE dev_id = 'kc-line-1'") == lost
    old = _rows(
        server,
        "SELECT blocked_code, replaced_by FROM devices WHERE dev_id = 'kc-line-1'",
    )
    assert old == [("fork", "kc-line-1-r2")]
    # … and every event of the restored journal is on the server under the new id, each
    # naming its original.
    new = _rows(
        server, "SELECT seq, type, body FROM events WHERE dev_id = 'kc-line-1-r2' ORDER BY seq"
    )
    assert [(s, t) for s, t, _ in new] == [(s, t) for s, _, t in restored]
    for (seq, _, body), (_, original_id, _) in zip(new, restored, strict=True):
        ref = body if isinstance(body, dict) else json.loads(body)
        assert ref["continues"] == {"dev": "kc-line-1", "seq": seq, "id": original_id}
    # The batch opened before the fork is the new id's now; the lost future's batch keeps its
    # public lot; the restored Pi's batch with the same lot is kept without one, with an alert.
    lots = _rows(server, "SELECT dev_id, lot, public_lot FROM batches ORDER BY received_at")
    first_lot = lots[0][1]
    assert ("kc-line-1-r2", first_lot, first_lot) in lots
    assert ("kc-line-1", lost_lot, lost_lot) in lots
    assert ("kc-line-1-r2", reused_lot, None) in lots
    assert _rows(
        server,
        "SELECT kind, subject FROM alerts WHERE dev_id = 'kc-line-1-r2' AND kind = 'lot_taken'",
    ) == [("lot_taken", reused_lot)]
    # The decision is recorded: who, why, and in the audit log.
    assert _rows(
        server, "SELECT username, cause, blocked_seq, decision, new_dev_id FROM device_decisions"
    ) == [("officer1", "fork", 5, "continue", "kc-line-1-r2")]
    assert _rows(
        server, "SELECT username, target FROM audit_log WHERE action = 'device.unblock.continue'"
    ) == [("officer1", "kc-line-1")]
    # The new id's enrolment cannot be replayed, and the page shows the link.
    page = office.get("/office/devices/kc-line-1/unblock").get_data(as_text=True)
    assert 'id="replaced-by"' in page and "decide-continue" not in page


def test_a_device_blocked_for_a_bad_body_is_accepted_and_resumes(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-3", broker.port)
    enrol(server, edge)
    _record(edge, server.base_url, new_batch=True, steps=1)  # seq 1, 2
    # A bug on the device: a step without the values the server needs (seq 3).
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    try:
        (batch,) = edge.journal_rows("SELECT batch_id FROM batches")[0]
        agent.journal.append("step.recorded", {"batch": batch, "step": "XAT", "name": "Xát"})
    finally:
        agent.close()
    _record(edge, server.base_url, new_batch=False, steps=1)  # seq 4
    server.run(procs)
    edge.run(procs)
    blocked = wait_until(lambda: edge.status()["blocked"], 30, "sync to be blocked")
    assert (blocked["code"], blocked["seq"]) == ("bad_body", 3)

    office = _office(server)
    evidence = office.get("/office/devices/kc-line-3/unblock").get_data(as_text=True)
    assert 'data-seq="3"' in evidence and 'id="decide-accept"' in evidence
    refused = office.post(
        "/office/devices/kc-line-3/unblock",
        data={"csrf": csrf_of(evidence), "decision": "accept", "reason": " "},
    )
    assert refused.status_code == 400  # a reason is required
    _decide(office, "kc-line-3", "accept", "Lỗi phần mềm trên máy; giữ sự kiện như đã ghi")

    wait_until(lambda: edge.status()["blocked"] is None, 30, "the agent's block to clear")
    edge.record_step()  # seq 5, through the touchscreen
    wait_until(lambda: edge.acked() == 5, 30, "the agent to sync again")
    assert server.scalar("SELECT head_seq FROM devices WHERE dev_id = 'kc-line-3'") == 5
    assert server.scalar("SELECT blocked_code FROM devices WHERE dev_id = 'kc-line-3'") is None
    assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = 'kc-line-3'") == 5
    assert _rows(server, "SELECT decision, cause, username FROM device_decisions") == [
        ("accept", "bad_body", "officer1")
    ]


def _ocop_edge(
    edge: EdgeEnv, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "edge", "--config", str(edge.config_path), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def test_a_continue_the_broker_could_not_send_is_sent_again_and_run_at_the_pi(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    """The broker is down when the office decides: the page says the device was not told; the
    office sends again (a new token, the first dead); a technician at the Pi runs
    ``ocop edge continue`` with the agent stopped, and the agent syncs as the new id."""
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-2", broker.port)
    enrol(server, edge)
    _record(edge, server.base_url, new_batch=True, steps=1)  # seq 1, 2
    backup = tmp_path / "backup.db"
    shutil.copy(edge.journal, backup)
    _record(edge, server.base_url, new_batch=False, steps=1)  # seq 3: lost
    server.run(procs)
    agent = edge.run(procs)
    wait_until(lambda: edge.acked() == 3, 30, "the first sync")
    agent.terminate()
    agent.wait(10)
    for suffix in ("-wal", "-shm"):
        Path(str(edge.journal) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, edge.journal)
    _record(edge, server.base_url, new_batch=False, steps=2)  # seq 3', 4'
    restored = edge.journal_rows("SELECT seq, id, type FROM events ORDER BY seq")
    agent = edge.run(procs)
    wait_until(lambda: edge.status()["blocked"], 30, "sync to be blocked")

    # The office's web process cannot reach the broker.
    down = replace(server.config, mqtt=replace(server.config.mqtt, port=free_port()))
    office = officer_client(create_app(down, server.engine), server.engine)
    decided = _decide(office, "kc-line-2", "continue", "Pi khôi phục từ bản sao lưu cũ")
    assert 'id="unblock-error"' in decided
    first = re.search(r'<code id="token">([^<]+)<', decided)
    assert first
    page = office.get("/office/devices/kc-line-2/unblock").get_data(as_text=True)
    resent = office.post(
        "/office/devices/kc-line-2/unblock/resend", data={"csrf": csrf_of(page)}
    ).get_data(as_text=True)
    command = re.search(r'<code id="continue-command">([^<]+)<', resent)
    assert command and first.group(1) not in command.group(1)
    assert command.group(1).startswith("ocop edge continue --as kc-line-2-r2 --token=")
    second = command.group(1).split("--token=", 1)[1]

    # At the Pi: not while the agent runs; not with the first token; then with the second.
    running = _ocop_edge(edge, "continue", "--as", "kc-line-2-r2", "--token", second)
    assert running.returncode == 2 and "the agent is running" in running.stderr
    agent.terminate()
    agent.wait(10)
    dead = _ocop_edge(edge, "continue", "--as", "kc-line-2-r2", f"--token={first.group(1)}")
    assert dead.returncode == 2 and "expired_token" in dead.stderr, dead.stderr
    assert json.loads(_ocop_edge(edge, "status").stdout)["device"] == "kc-line-2"
    done = _ocop_edge(edge, "continue", "--as", "kc-line-2-r2", "--token-file", "-", stdin=second)
    assert done.returncode == 0, done.stderr
    assert "kc-line-2 continues as kc-line-2-r2" in done.stdout
    status = json.loads(_ocop_edge(edge, "status").stdout)
    assert (status["device"], status["blocked"], status["acked"]) == ("kc-line-2-r2", None, 0)

    edge.run(procs)
    wait_until(lambda: edge.acked() == len(restored), 60, "the new identity to sync")
    new = _rows(server, "SELECT seq, type FROM events WHERE dev_id = 'kc-line-2-r2' ORDER BY seq")
    assert new == [(s, t) for s, _, t in restored]
    assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = 'kc-line-2'") == 3
    actions = _rows(server, "SELECT action FROM audit_log WHERE target = 'kc-line-2' ORDER BY id")
    assert [a for (a,) in actions if a.startswith("device.unblock")] == [
        "device.unblock.continue",
        "device.unblock.resend",
    ]
