"""The background writer of batch-code scans: group commit, bounded queue, flush."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from sync_server.consumer.scan_writer import WRITE_LOCK, ScanWriter
from sync_server.store.db import scans


def _row(i: int) -> dict[str, object]:
    return {
        "at": 1_800_000_000.0 + i,
        "lot": "KC-NM-240301-01",
        "serial": None,
        "gtin": None,
        "facility_code": "KC",
        "verdict": "batch",
        "place": f"{i:016x}",
    }


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(scans)).scalar_one())


def test_every_submitted_scan_is_written_once(engine: Engine) -> None:
    writer = ScanWriter(engine, max_batch=50)
    for i in range(500):
        assert writer.submit(_row(i))
    assert writer.flush()
    assert _count(engine) == 500 and writer.dropped == 0


def test_a_full_queue_drops_and_counts_instead_of_blocking(engine: Engine) -> None:
    writer = ScanWriter(engine, max_queue=5)
    accepted = 0
    with WRITE_LOCK:  # the writer thread cannot commit while this is held: the queue fills
        for i in range(50):
            accepted += writer.submit(_row(i))
    assert writer.flush()
    assert writer.dropped == 50 - accepted > 0
    assert _count(engine) == accepted
