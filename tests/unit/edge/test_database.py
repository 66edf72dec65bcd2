"""The edge store's locking policy: writers in threads, readers in threads, no torn read.

Writers go through the public domain API (each step is one journal event and its projections in
one transaction); some of their transactions roll back. Readers go through
``edge_agent.queries`` and check, within one read, what a torn or dirty read would break.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlite_utils import Database

from edge_agent import queries
from edge_agent.batches import open_batch, record_step
from edge_agent.database import EdgeDatabase, open_edge_db
from edge_agent.journal import Journal
from trace_protocol.catalog import Catalog
from trace_protocol.envelope import Event

Reader = Callable[[], AbstractContextManager[Database]]
WRITERS, READERS, STEPS = 2, 3, 30
DOOMED = "rolled back"  # the note of steps whose transaction never commits
DEADLINE_S = 20.0


class Doomed(Exception):
    pass


def _doom(db: Database, event: Event) -> None:
    time.sleep(0.002)  # the step's rows are written; hold the transaction open, then fail
    raise Doomed


def _problems(db: Database) -> list[str]:
    """What one read sees that a committed state never shows."""
    found = []
    last_seqs = []
    for tile in queries.recent_batches(db, 100):
        batch = queries.get_batch(db, tile.batch_id)
        assert batch is not None
        steps = queries.batch_steps(db, tile.batch_id)
        if any(s.note == DOOMED for s in steps):
            found.append(f"{batch.lot}: a step whose transaction rolled back")
        if steps and batch.last_seq != steps[-1].seq:
            found.append(f"{batch.lot}: last_seq {batch.last_seq}, last step {steps[-1].seq}")
        last_seqs.append(batch.last_seq)
    head = queries.journal_head(db)
    if last_seqs and head != max(last_seqs):  # every event here is a batch's
        found.append(f"journal head {head}, newest projected seq {max(last_seqs)}")
    return found


def _run(journal: Journal, catalog: Catalog, read: Reader) -> tuple[list[str], int]:
    """Writers and readers at once; the problems readers saw and how many reads they made."""
    done = threading.Event()
    problems: list[str] = []
    errors: list[BaseException] = []
    reads = [0] * READERS
    start = threading.Barrier(WRITERS + READERS)

    def writer() -> None:
        try:
            start.wait()
            batch_id = open_batch(journal, catalog, "NM", "").body["batch"]
            for i in range(STEPS):
                record_step(journal, catalog, batch_id, "XAT", {}, f"ok {i}")
                with pytest.raises(Doomed):
                    record_step(journal, catalog, batch_id, "XAT", {}, DOOMED, after=_doom)
        except BaseException as exc:
            errors.append(exc)

    def reader(n: int) -> None:
        start.wait()
        deadline = time.monotonic() + DEADLINE_S
        while not done.is_set() and time.monotonic() < deadline:
            try:
                with read() as db:
                    problems.extend(_problems(db))
            except sqlite3.Error as exc:  # a reader must never fail either
                problems.append(repr(exc))
            reads[n] += 1

    writers = [threading.Thread(target=writer) for _ in range(WRITERS)]
    readers = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for th in writers + readers:
        th.start()
    for th in writers:
        th.join(DEADLINE_S)
    done.set()
    for th in readers:
        th.join(DEADLINE_S)
    assert errors == []
    return problems, min(reads)


def test_readers_never_see_a_transaction_in_progress(
    store: EdgeDatabase, journal: Journal, catalog: Catalog
) -> None:
    problems, reads = _run(journal, catalog, store.read)
    assert problems == []
    assert reads >= 10  # every reader really read while the writers wrote
    with store.read() as db:  # and the writes all landed
        assert queries.journal_head(db) == WRITERS * (1 + STEPS)
        assert _problems(db) == []


def test_the_check_sees_torn_reads_on_a_shared_connection(
    store: EdgeDatabase, journal: Journal, catalog: Catalog
) -> None:
    """The old way (a reader on the writer's connection, without the lock) fails the check."""

    @contextmanager
    def shared() -> Iterator[Database]:
        yield store.writer

    problems, _ = _run(journal, catalog, shared)
    assert any(DOOMED in p or "last_seq" in p or "head" in p for p in problems)


def test_a_read_is_one_snapshot_and_nested_reads_share_it(
    store: EdgeDatabase, journal: Journal
) -> None:
    journal.append("note.added", {})
    with store.read() as db:
        assert queries.journal_head(db) == 1
        journal.append("note.added", {})  # committed by the writer meanwhile
        with store.read() as inner:
            assert queries.journal_head(inner) == 1
        assert journal.head() == 1
    with store.read() as db:
        assert queries.journal_head(db) == 2


def test_readers_are_read_only(store: EdgeDatabase) -> None:
    with store.read() as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.conn.execute("DELETE FROM events")


def test_close_closes_the_writer_and_every_reader(tmp_path: Path) -> None:
    store = open_edge_db(tmp_path / "j.db")
    readers: list[Database] = []

    def read() -> None:
        with store.read() as db:
            readers.append(db)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len({id(db.conn) for db in readers}) == 3  # one reader per thread
    store.close()
    store.close()  # twice is fine
    for conn in [store.writer.conn, *(db.conn for db in readers)]:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError), store.read():
        pass
