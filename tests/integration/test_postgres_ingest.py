"""Issue 8: two ingest workers on PostgreSQL behind a real Mosquitto, four agents syncing at once.

The workers share the broker's subscription group, so chunks of one device land on both: the
device row lock (SELECT … FOR UPDATE) must make them take turns, and what ends up committed is
every journal event exactly once, in order, with no gap.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ocop_cli.broker import Mosquitto
from sync_server.store.db import devices, events
from tests.integration.harness import (
    Processes,
    enrol,
    make_edge,
    make_server,
    wait_until,
)
from tests.integration.prefill import prefill

pytestmark = pytest.mark.integration
AGENTS = 4
PREFILLED_STEPS = 80
LIVE_STEPS = 5
# Small chunks, several in flight: both workers get chunks of every device at the same time.
EDGE_MQTT = {"chunk_size": 10, "window_chunks": 4}


def test_two_ingest_workers_commit_every_event_once_in_order(
    tmp_path: Path, broker: Mosquitto, procs: Processes, postgres_url: str
) -> None:
    server = make_server(tmp_path, broker.port, database_url=postgres_url)
    assert server.engine.dialect.name == "postgresql"
    edges = [make_edge(tmp_path, f"kc-pg-{i}", broker.port, **EDGE_MQTT) for i in range(AGENTS)]
    for edge in edges:
        enrol(server, edge)
        prefill(edge, PREFILLED_STEPS)
    ingest = ["server", "--config", str(server.config_path), "ingest"]
    for n in range(2):
        procs.start(ingest, tmp_path / f"ingest{n}.log")
    for edge in edges:
        edge.run(procs)
    # Steps recorded while the backlog is being synced by the other agents.
    for _ in range(LIVE_STEPS):
        for edge in edges:
            edge.record_step()

    def all_acked() -> bool:
        return all(e.status()["acked"] == e.head() for e in edges)

    wait_until(all_acked, 120, "every agent's journal to be acked")
    with server.engine.connect() as conn:
        for edge in edges:
            rows = conn.execute(
                select(events.c.seq, events.c.hash, events.c.received_at)
                .where(events.c.dev_id == edge.dev)
                .order_by(events.c.seq)
            ).all()
            journal = [
                (int(q), str(h)) for q, h in edge.journal_rows("SELECT seq, hash FROM events")
            ]
            assert [(r.seq, r.hash) for r in rows] == journal, edge.dev
            assert [r.seq for r in rows] == list(range(1, len(journal) + 1)), edge.dev
            assert len(journal) == 1 + PREFILLED_STEPS + LIVE_STEPS, edge.dev
            # Committed in order: no event was committed before the one it follows.
            received = [r.received_at for r in rows]
            assert received == sorted(received), edge.dev
            head = conn.execute(
                select(devices.c.head_seq, devices.c.blocked_code).where(
                    devices.c.dev_id == edge.dev
                )
            ).one()
            assert (head.head_seq, head.blocked_code) == (len(journal), None), edge.dev
    for n in range(2):
        log = (tmp_path / f"ingest{n}.log").read_text(encoding="utf-8")
        assert "ingest worker connected" in log
        assert "Traceback" not in log and "quarantined" not in log
    server.engine.dispose()
