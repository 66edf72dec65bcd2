"""Page reads do not take SQLite's write lock: a page renders while a writer holds it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from sync_server.devices.registry import import_catalog, register_device
from sync_server.store.db import create_schema, devices, open_engine, reading
from tests.unit.server.conftest import CATALOG
from trace_protocol.signing import DeviceKey


def test_reads_go_on_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    # SQLite only: PostgreSQL reads never take a write lock.
    engine = open_engine("sqlite:///" + str(tmp_path / "s.db"))
    create_schema(engine)
    import_catalog(engine, CATALOG, "http://x")
    register_device(engine, "kc-read-1", "KC", DeviceKey.generate().public_key_b64)
    with engine.begin() as writer:  # BEGIN IMMEDIATE: the write lock, as ingest holds it
        writer.execute(update(devices).values(head_seq=7))
        with reading(engine) as conn:  # with BEGIN IMMEDIATE this would wait, then fail
            head = conn.execute(select(devices.c.head_seq)).scalar_one()
        assert head == 0  # its snapshot: the writer has not committed yet
    with reading(engine) as conn:
        assert conn.execute(select(devices.c.head_seq)).scalar_one() == 7
    engine.dispose()
