"""The append-only, signed, hash-chained journal: one SQLite transaction per event + projection."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from edge_agent.clock import Clock
from edge_agent.database import EdgeDatabase
from edge_agent.queries import journal_head
from trace_protocol import PROTOCOL_VERSION
from trace_protocol.envelope import Event, build_event
from trace_protocol.messages import AckError
from trace_protocol.signing import DeviceKey

Projector = Callable[[Database, Event], None]


@dataclass(frozen=True)
class SyncState:
    head: int
    acked: int
    oldest_unsynced_written_at: float | None
    last_ack_at: float | None
    blocked: AckError | None

    @property
    def backlog(self) -> int:
        return self.head - self.acked


class Journal:
    """The only writer of events on a device. Thread-safe; every method is one transaction.

    Writes go through the store's writer (``edge_agent.database``), reads through the calling
    thread's read-only connection, so a read never sees half of an append.
    """

    def __init__(
        self, store: EdgeDatabase, key: DeviceKey, dev: str, clock: Clock, projector: Projector
    ) -> None:
        self.store = store
        self.key = key
        self.dev = dev
        self.clock = clock
        self._project = projector

    def close(self) -> None:
        """Close every connection to the journal file."""
        self.store.close()

    def append(
        self,
        type: str,
        body: dict[str, Any],
        check: Callable[[Database], object] | None = None,
        after: Callable[[Database, Event], object] | None = None,
    ) -> Event:
        """Sign and store the next event and update its projection atomically.

        ``check`` runs inside the transaction before the write, so a rule such as "the batch is
        still open" is checked against the same state the event is appended to. ``after`` runs
        in the same transaction once the event is written (e.g. to queue the print job it
        describes), so the event and what it starts stand or fall together.
        """
        with self.store.transaction() as db:
            conn = db.conn
            if check is not None:
                check(db)
            row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, None)
            event = build_event(
                key=self.key,
                dev=self.dev,
                seq=seq,
                type=type,
                body=body,
                prev=prev,
                at=self.clock.now(),
                clock=self.clock.state(),
            )
            conn.execute(
                "INSERT INTO events"
                " (seq, id, type, at, clock, body, prev, hash, sig, written_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.seq,
                    event.id,
                    event.type,
                    event.at,
                    event.clock,
                    json.dumps(event.body, ensure_ascii=False),
                    event.prev,
                    event.hash,
                    event.sig,
                    time.time(),
                ),
            )
            self._project(db, event)
            if after is not None:
                after(db, event)
        return event

    def head(self) -> int:
        with self.store.read() as db:
            return journal_head(db)

    def events_after(self, seq: int, limit: int) -> list[Event]:
        with self.store.read() as db:
            rows = db.conn.execute(
                "SELECT seq, id, type, at, clock, body, prev, hash, sig FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [
            Event(
                v=PROTOCOL_VERSION,
                dev=self.dev,
                seq=r[0],
                id=r[1],
                type=r[2],
                at=r[3],
                clock=r[4],
                body=json.loads(r[5]),
                prev=r[6],
                hash=r[7],
                sig=r[8],
            )
            for r in rows
        ]

    def sync_state(self) -> SyncState:
        with self.store.read() as db:
            conn = db.conn
            head = int(conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)
            s = conn.execute(
                "SELECT acked_seq, last_ack_at, blocked_code, blocked_seq, blocked_detail"
                " FROM sync_state WHERE id = 1"
            ).fetchone()
            oldest = conn.execute(
                "SELECT written_at FROM events WHERE seq = ?", (s[0] + 1,)
            ).fetchone()
        blocked = AckError(code=s[2], seq=s[3], detail=s[4]) if s[2] else None
        return SyncState(
            head=head,
            acked=int(s[0]),
            oldest_unsynced_written_at=oldest[0] if oldest else None,
            last_ack_at=s[1],
            blocked=blocked,
        )

    def mark_acked(self, upto: int) -> int:
        """Advance the acked position to ``upto`` (never backwards, never past the head)."""
        with self.store.transaction() as db:
            conn = db.conn
            head = int(conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)
            conn.execute(
                "UPDATE sync_state SET acked_seq = MAX(acked_seq, ?), last_ack_at = ? WHERE id = 1",
                (min(upto, head), time.time()),
            )
            acked = int(conn.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()[0])
        return acked

    def mark_blocked(self, error: AckError | None) -> None:
        """Record (or clear, with None) the server's refusal that blocks sync."""
        with self.store.write() as db:
            db.conn.execute(
                "UPDATE sync_state SET blocked_code = ?, blocked_seq = ?, blocked_detail = ?,"
                " blocked_at = ? WHERE id = 1",
                (
                    error.code if error else None,
                    error.seq if error else None,
                    error.detail if error else None,
                    time.time() if error else None,
                ),
            )
