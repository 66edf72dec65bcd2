"""Two workers at once on one database: a device's chunks and an alert's check take turns.

On SQLite ``BEGIN IMMEDIATE`` serialises every writer; on PostgreSQL (READ COMMITTED) the device
row lock and the alert advisory lock must do it, or these tests see double commits and alerts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine, func, select

from sync_server.ingest.commit import IngestResult, ingest_chunk
from sync_server.store.alerts import raise_alert
from sync_server.store.db import alerts, events
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body, step_body
from tests.unit.server.conftest import DEV
from trace_protocol.messages import encode_chunk

ROUNDS = 5


def _together(*jobs: Callable[[], object]) -> list[object]:
    """Run the jobs in threads released at the same moment; their results, or raised errors."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_the_same_chunk_at_three_workers_commits_once(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch))
    done = 0
    for _ in range(ROUNDS):
        for i in range(10):
            chain.next("step.recorded", step_body(batch, value=40.0 + i))
        payload = encode_chunk(DEV, chain.events[done:])
        results = _together(*[partial(ingest_chunk, engine, DEV, payload)] * 3)
        assert all(isinstance(r, IngestResult) for r in results), results
        ingested = [r for r in results if isinstance(r, IngestResult)]
        # One worker commits the chunk; the others find it at or below the head: a resend.
        assert sorted(r.committed for r in ingested) == [0, 0, len(chain.events) - done]
        done = len(chain.events)
        assert [r.ack.upto if r.ack else None for r in ingested] == [done] * 3
    with engine.connect() as conn:
        seqs = list(conn.scalars(select(events.c.seq).where(events.c.dev_id == DEV)))
    assert sorted(seqs) == list(range(1, done + 1))


def test_two_sweeps_raise_one_alert(engine: Engine, device: str) -> None:
    def raise_one() -> bool:
        with engine.begin() as conn:
            return raise_alert(conn, DEV, "KC", "silent", "not heard from")

    for _ in range(ROUNDS):
        results = _together(raise_one, raise_one, raise_one)
        with engine.begin() as conn:
            still_open = alerts.c.resolved_at.is_(None)
            count = conn.execute(select(func.count()).where(still_open)).scalar_one()
            conn.execute(alerts.update().where(still_open).values(resolved_at=1.0))
        assert count == 1 and sorted(map(str, results)) == ["False", "False", "True"]
