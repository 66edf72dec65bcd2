"""The journal: gap-free seqs, hash links, signatures, acks, atomic projection, concurrency."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from edge_agent.batches import open_batch
from edge_agent.database import EdgeDatabase, open_edge_db
from edge_agent.journal import Journal
from edge_agent.projections import project
from tests.unit.edge.conftest import DEV, FixedClock
from trace_protocol.catalog import Catalog
from trace_protocol.chain import verify_run
from trace_protocol.envelope import Event
from trace_protocol.messages import AckError
from trace_protocol.signing import DeviceKey, load_public_key


def fill(journal: Journal, n: int) -> list[Event]:
    return [journal.append("note.added", {"i": i, "text": "Độ ẩm ổn"}) for i in range(n)]


def assert_valid_chain(journal: Journal, key: DeviceKey, n: int) -> list[Event]:
    events = journal.events_after(0, n + 10)
    assert [e.seq for e in events] == list(range(1, n + 1))
    assert events[0].prev is None
    for before, after in itertools.pairwise(events):
        assert after.prev == before.hash
    for e in events:
        assert e.computed_hash() == e.hash
    verdict = verify_run(
        events, dev=DEV, public_key=load_public_key(key.public_key_b64), prev_hash=None
    )
    assert verdict.problem is None
    assert verdict.accepted == events
    return events


def test_store_opens_with_wal_and_full_sync(db: Database) -> None:
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.conn.execute("SELECT acked_seq FROM sync_state").fetchall() == [(0,)]


def test_reopening_the_store_keeps_events_and_reapplies_no_migration(
    tmp_path: Path, key: DeviceKey
) -> None:
    first = Journal(open_edge_db(tmp_path / "j.db"), key, DEV, FixedClock(), project)
    events = fill(first, 3)
    first.close()
    again = open_edge_db(tmp_path / "j.db")
    journal = Journal(again, key, DEV, FixedClock(), project)
    assert journal.events_after(0, 10) == events
    assert again.writer.conn.execute("SELECT COUNT(*) FROM sync_state").fetchone()[0] == 1
    assert journal.append("note.added", {}).seq == 4
    journal.close()


def test_seqs_are_gap_free_linked_and_signed(journal: Journal, key: DeviceKey) -> None:
    appended = fill(journal, 12)
    events = assert_valid_chain(journal, key, 12)
    assert events == appended
    assert journal.head() == 12


def test_events_carry_device_clock_and_time(journal: Journal) -> None:
    event = journal.append("note.added", {})
    assert (event.dev, event.v, event.clock) == (DEV, 1, "synced")
    assert event.at == "2024-03-01T08:30:00.000+07:00"


def test_events_after_pages(journal: Journal) -> None:
    events = fill(journal, 6)
    assert journal.events_after(3, 2) == events[3:5]
    assert journal.events_after(6, 10) == []
    assert journal.events_after(0, 0) == []


def test_chain_continues_over_domain_events(
    journal: Journal, key: DeviceKey, catalog: Catalog
) -> None:
    open_batch(journal, catalog, "NM", "")
    fill(journal, 2)
    open_batch(journal, catalog, "NM", "")
    assert_valid_chain(journal, key, 4)


def test_mark_acked_never_goes_backwards_or_past_head(journal: Journal) -> None:
    assert journal.mark_acked(5) == 0  # nothing written yet
    fill(journal, 5)
    assert journal.mark_acked(3) == 3
    assert journal.mark_acked(2) == 3
    assert journal.mark_acked(-1) == 3
    assert journal.mark_acked(99) == 5
    assert journal.sync_state().acked == 5
    fill(journal, 2)
    assert journal.mark_acked(4) == 5
    assert journal.mark_acked(7) == 7


def test_sync_state_backlog(journal: Journal) -> None:
    state = journal.sync_state()
    assert (state.head, state.acked, state.backlog) == (0, 0, 0)
    assert state.oldest_unsynced_written_at is None
    assert state.last_ack_at is None
    assert state.blocked is None

    fill(journal, 5)
    state = journal.sync_state()
    assert (state.head, state.acked, state.backlog) == (5, 0, 5)
    first_written = journal.store.writer.conn.execute(
        "SELECT written_at FROM events WHERE seq = 1"
    ).fetchone()[0]
    assert state.oldest_unsynced_written_at == first_written

    journal.mark_acked(3)
    state = journal.sync_state()
    assert (state.head, state.acked, state.backlog) == (5, 3, 2)
    assert (
        state.oldest_unsynced_written_at
        == journal.store.writer.conn.execute(
            "SELECT written_at FROM events WHERE seq = 4"
        ).fetchone()[0]
    )
    assert state.last_ack_at is not None

    journal.mark_acked(5)
    state = journal.sync_state()
    assert state.backlog == 0
    assert state.oldest_unsynced_written_at is None


def test_mark_blocked_and_clear(journal: Journal) -> None:
    error = AckError("fork", 3, "another event was already committed at this seq")
    journal.mark_blocked(error)
    assert journal.sync_state().blocked == error
    journal.mark_blocked(None)
    assert journal.sync_state().blocked is None


def test_event_and_projection_are_atomic(
    store: EdgeDatabase, db: Database, key: DeviceKey, catalog: Catalog
) -> None:
    def failing(db: Database, event: Event) -> None:
        project(db, event)  # the projection row is inserted …
        assert db.conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 1
        raise RuntimeError("power cut")  # … and then the projector fails

    journal = Journal(store, key, DEV, FixedClock(), failing)
    with pytest.raises(RuntimeError, match="power cut"):
        open_batch(journal, catalog, "NM", "")
    assert db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 0
    assert not db.conn.in_transaction

    # The failed event used no seq: the next one is seq 1 with prev null.
    good = Journal(store, key, DEV, FixedClock(), project)
    event = open_batch(good, catalog, "NM", "")
    assert (event.seq, event.prev) == (1, None)
    assert event.body["lot"] == "KC-NM-240301-01"


def test_failed_check_writes_nothing(journal: Journal) -> None:
    fill(journal, 2)

    def refuse(db: Database) -> None:
        raise ValueError("rule broken")

    with pytest.raises(ValueError, match="rule broken"):
        journal.append("note.added", {}, check=refuse)
    assert journal.head() == 2
    assert journal.append("note.added", {}).seq == 3


def test_unhashable_body_writes_nothing(journal: Journal) -> None:
    with pytest.raises(ValueError):
        journal.append("note.added", {"x": float("nan")})
    assert journal.head() == 0
    assert not journal.store.writer.conn.in_transaction


def test_four_threads_appending_share_one_gap_free_chain(journal: Journal, key: DeviceKey) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(50):
                journal.append("note.added", {"thread": t, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    events = assert_valid_chain(journal, key, 200)
    for t in range(4):
        assert [e.body["i"] for e in events if e.body["thread"] == t] == list(range(50))


def test_separate_connections_to_one_file_share_one_chain(tmp_path: Path, key: DeviceKey) -> None:
    # Two processes' worth of writers: each its own connection, serialised by BEGIN IMMEDIATE.
    path = tmp_path / "j.db"
    journals = [Journal(open_edge_db(path), key, DEV, FixedClock(), project) for _ in range(2)]
    errors: list[BaseException] = []

    def worker(j: Journal, t: int) -> None:
        try:
            for i in range(25):
                j.append("note.added", {"thread": t, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(j, t)) for t, j in enumerate(journals)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert_valid_chain(journals[0], key, 50)
    for j in journals:
        j.close()
