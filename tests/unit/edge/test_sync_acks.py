"""How the sync worker reads acks from two ingest workers (no broker needed: acks are fed in)."""

from __future__ import annotations

from pathlib import Path

from edge_agent.config import EdgeConfig
from edge_agent.journal import Journal
from edge_agent.sync import SyncWorker
from tests.unit.edge.conftest import DEV
from trace_protocol.messages import Ack, AckError


def _worker(journal: Journal, tmp_path: Path, events: int) -> SyncWorker:
    for i in range(events):
        journal.append("note.recorded", {"text": f"n{i}"})
    worker = SyncWorker(
        journal,
        EdgeConfig(device_id=DEV, data_dir=tmp_path),
        password=None,
        on_catalog=lambda c: None,
        version="test",
    )
    # As if chunks 1-100, 101-200 and 201-300 were published on this connection.
    worker.window.connect(journal.sync_state().acked, blocked=False, now=0.0)
    worker.window.published(events)
    return worker


def test_a_gap_reported_by_the_slower_worker_resends_at_once(
    journal: Journal, tmp_path: Path
) -> None:
    worker = _worker(journal, tmp_path, 300)
    # Worker A commits 1-100 and acks; worker B had dropped 101-200, which overtook 1-100,
    # and its gap ack (upto 0) arrives after A's ack.
    worker._handle_ack(Ack(upto=100).encode())
    assert journal.sync_state().acked == 100 and worker.window.sent_upto == 300
    worker._handle_ack(Ack(upto=0, gap=True).encode())
    assert journal.sync_state().acked == 100  # never goes back
    assert worker.window.sent_upto == 100  # resend 101-300 now, not after the ack timeout


def test_a_stale_ack_without_gap_changes_nothing(journal: Journal, tmp_path: Path) -> None:
    worker = _worker(journal, tmp_path, 300)
    worker._handle_ack(Ack(upto=200).encode())
    worker._handle_ack(Ack(upto=100).encode())
    assert journal.sync_state().acked == 200 and worker.window.sent_upto == 300


def test_gap_acks_of_one_window_resend_once_and_a_later_gap_at_once(
    journal: Journal, tmp_path: Path
) -> None:
    worker = _worker(journal, tmp_path, 400)
    worker._handle_ack(Ack(upto=100, gap=True).encode())
    assert worker.window.sent_upto == 100
    worker.window.published(400)  # the resend went out
    worker._handle_ack(Ack(upto=100, gap=True).encode())  # another chunk of the same window
    assert worker.window.sent_upto == 400
    worker._handle_ack(Ack(upto=200, gap=True).encode())  # a new gap further on: no waiting
    assert worker.window.sent_upto == 200


def test_the_wait_for_stalled_acks_doubles_and_holds_after_a_probe_is_acked(
    journal: Journal, tmp_path: Path
) -> None:
    worker = _worker(journal, tmp_path, 300)
    window = worker.window
    base = worker.config.mqtt.ack_timeout_s
    waits, now = [], 0.0
    for _ in range(5):
        waits.append(window.stall_timeout())
        now += window.stall_timeout() + 1  # no ack for longer than the wait: resend
        send = window.next_send(300, now)
        assert send is not None and send.stalled and send.after == 0
        window.published(send.upto)
    assert waits == [base, 2 * base, 4 * base, 8 * base, 8 * base]
    worker._handle_ack(Ack(upto=100).encode())
    # The ack of a resent chunk: progress, but the backed-off wait holds (Karn's algorithm;
    # a fresh chunk's ack ends it: test_send_window.py). A new connection starts over.
    assert journal.sync_state().acked == 100 and window.stall_timeout() == 8 * base
    window.connect(100, blocked=False, now=now)
    assert window.stall_timeout() == base


def test_an_ack_beyond_what_was_published_confirms_only_what_was(
    journal: Journal, tmp_path: Path
) -> None:
    worker = _worker(journal, tmp_path, 300)
    worker.window.connect(0, blocked=False, now=0.0)  # a reconnect: nothing published yet
    worker.window.published(100)
    worker._handle_ack(Ack(upto=300).encode())  # a server holding another history
    assert journal.sync_state().acked == 100


def test_an_error_ack_blocks_sync_in_the_journal_and_the_window(
    journal: Journal, tmp_path: Path
) -> None:
    worker = _worker(journal, tmp_path, 300)
    error = AckError(code="fork", seq=101, detail="another hash at 101")
    worker._handle_ack(Ack(upto=100, error=error).encode())
    state = journal.sync_state()
    assert state.acked == 100 and state.blocked == error
    assert worker.window.next_send(300, 1.0) is None
    # A restarted agent reads the block back from the journal when it connects.
    worker.window.connect(state.acked, blocked=state.blocked is not None, now=2.0)
    assert worker.window.next_send(300, 3.0) is None
