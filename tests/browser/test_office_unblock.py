"""Issue 16 acceptance, unblocking: a Pi restored from an old backup is blocked for a fork; an
officer in a real browser opens its device page, follows "Gỡ chặn", sees the quarantined event
beside the server's event at that seq, decides that it continues under a new identity with a
reason, and the real agent continues as ``…-r2`` and syncs again with nothing lost (every event
of both chains on the server). An admin finds the decision in the audit log.
(docs/protocol.md "Unblocking"; tests/integration/test_unblock.py drives the same story with a
Flask client.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import Mosquitto
from sync_server.accounts.users import create_user
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
from trace_protocol.catalog import parse_catalog

pytestmark = pytest.mark.browser
PASSWORD = "văn phòng OCOP 2026"
REASON = "Pi khôi phục từ bản sao lưu cũ sau khi hỏng thẻ nhớ"


def _record(edge: EdgeEnv, base_url: str, *, steps: int) -> None:
    """Open a batch and record steps in the journal in-process, the agent stopped."""
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    try:
        catalog = agent.catalog()
        if catalog is None:
            obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
            catalog = parse_catalog({**obj, "version": 1, "public_base_url": base_url})
            agent.accept_catalog(catalog)
        batch = str(batches.open_batch(agent.journal, catalog, "NM", "").body["batch"])
        for _ in range(steps):
            batches.record_step(agent.journal, catalog, batch, "XAT", {}, "")
    finally:
        agent.close()


def _rows(server: ServerEnv, sql: str, *params: Any) -> list[Any]:
    with server.engine.connect() as conn:
        return list(conn.exec_driver_sql(sql, params).all())


def _login(browser: Browser, server: ServerEnv, username: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{server.base_url}/office/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/office/**")
    return page


def test_restored_pi_is_unblocked_in_the_browser_and_syncs_with_nothing_lost(
    tmp_path: Path, browser: Browser, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    _record(edge, server.base_url, steps=2)  # seq 1..3
    backup = tmp_path / "backup.db"
    shutil.copy(edge.journal, backup)
    _record(edge, server.base_url, steps=1)  # seq 4, 5: lost with the SD card
    server.run(procs)
    agent = edge.run(procs)
    wait_until(lambda: edge.acked() == 5, 30, "the first sync")
    lost = _rows(server, "SELECT seq, id, hash FROM events WHERE dev_id = 'kc-line-1'")
    agent.terminate()
    agent.wait(10)

    # Restored from the old backup, the Pi goes on working at seqs the server already holds.
    for suffix in ("-wal", "-shm"):
        Path(str(edge.journal) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, edge.journal)
    _record(edge, server.base_url, steps=2)  # seq 4', 5', 6'
    restored = edge.journal_rows("SELECT seq, id, type FROM events ORDER BY seq")
    edge.run(procs)
    blocked = wait_until(lambda: edge.status()["blocked"], 30, "sync to be blocked")
    assert (blocked["code"], blocked["seq"]) == ("fork", 4)

    create_user(server.engine, "canbo", PASSWORD, "officer")
    create_user(server.engine, "quantri", PASSWORD, "admin")
    page = _login(browser, server, "canbo")
    page.goto(f"{server.base_url}/office/devices/kc-line-1")
    page.get_by_role("link", name="Gỡ chặn").click()
    page.wait_for_url("**/office/devices/kc-line-1/unblock")

    # The evidence: at seq 4 the quarantined event beside the server's, from the same prev.
    row = page.locator('table.evidence tr[data-seq="4"]').first
    refused, held = row.locator("td").nth(2).inner_text(), row.locator("td").nth(3).inner_text()
    assert "batch.opened" in refused and "batch.opened" in held
    assert "cùng sự kiện trước" in held
    (server_hash,) = [h for s, _, h in lost if s == 4]
    assert server_hash[:12] in held and server_hash[:12] not in refused
    assert page.locator("#cause").inner_text().startswith("Thiết bị gửi một sự kiện khác")
    assert page.locator("#decide-accept").count() == 0  # a fork cannot be accepted

    # The decision, with its reason.
    form = page.locator("#decide-continue")
    form.locator("textarea[name=reason]").fill(REASON)
    form.get_by_role("button", name="Tiếp tục với danh tính thiết bị mới").click()
    page.wait_for_url("**/office/devices/kc-line-1/unblock")
    assert page.locator("#new-device").inner_text() == "kc-line-1-r2"
    assert page.locator("#unblock-error").count() == 0  # the device was told
    assert page.locator("#token").inner_text().strip()

    # The agent enrols as kc-line-1-r2, re-records its journal and syncs from seq 1.
    head = len(restored)
    wait_until(
        lambda: server.scalar("SELECT head_seq FROM devices WHERE dev_id = 'kc-line-1-r2'") == head,
        60,
        "the new identity's chain to be committed",
    )
    wait_until(lambda: edge.status()["acked"] == head, 30, "the agent to see its acks")
    status = edge.status()
    assert status["blocked"] is None and status["device"] == "kc-line-1-r2"

    # Nothing lost: the old chain, lost future included, is still the old id's; every event
    # of the restored journal is the new id's, each naming its original.
    assert _rows(server, "SELECT seq, id, hash FROM events WHERE dev_id = 'kc-line-1'") == lost
    new = _rows(
        server, "SELECT seq, type, body FROM events WHERE dev_id = 'kc-line-1-r2' ORDER BY seq"
    )
    assert [(s, t) for s, t, _ in new] == [(s, t) for s, _, t in restored]
    for (seq, _, body), (_, original_id, _) in zip(new, restored, strict=True):
        ref = body if isinstance(body, dict) else json.loads(body)
        assert ref["continues"] == {"dev": "kc-line-1", "seq": seq, "id": original_id}

    # The pages show the link both ways, and the new device online.
    page.reload()
    assert page.locator("#replaced-by").inner_text() == "kc-line-1-r2"
    assert page.locator("#decide-continue").count() == 0
    assert page.locator('table.decisions tr[data-decision="continue"]').count() == 1
    assert REASON in page.locator("table.decisions").inner_text()
    page.locator("#replaced-by a").click()
    page.wait_for_url("**/office/devices/kc-line-1-r2")

    # The audit log lists the decision: who, what, why.
    admin = _login(browser, server, "quantri")
    admin.goto(f"{server.base_url}/office/audit?action=device.unblock.continue")
    entry = admin.locator('tr[data-action="device.unblock.continue"]')
    assert entry.count() == 1
    text = entry.inner_text()
    assert "canbo" in text and "kc-line-1" in text and "kc-line-1-r2" in text
