"""The total-queue check: per device, what the agent's journal holds vs what the server committed.

In the spirit of Jepsen's total-queue checker: every event the journal holds (and every save the
touchscreen confirmed) must be committed on the server exactly once, at its own seq, with its own
hash. Definitions, per device:

- lost: journal seqs with no server row, plus confirmed saves (step notes, opened batches,
  receipts) that
  are on the server at no seq (a confirmed save missing from the journal is lost too)
- duplicated: an event id committed at more than one seq, a seq committed more than once, or a
  confirmed step note committed in more than one event
- gaps: seqs missing on the server below its highest committed seq
- forks: seqs where the server's hash differs from the journal's
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from sync_server.store.db import events, reading


@dataclass
class DeviceReport:
    dev: str
    journal: int = 0
    server: int = 0
    confirmed: int = 0
    lost: int = 0
    duplicated: int = 0
    gaps: int = 0
    forks: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(text)


@dataclass(frozen=True)
class Row:
    seq: int
    id: str
    type: str
    hash: str
    body: dict[str, object]


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def journal_rows(path: Path) -> list[Row]:
    conn = _read_only(path)
    try:
        rows = conn.execute("SELECT seq, id, type, hash, body FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [Row(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def server_rows(engine: Engine, dev: str) -> list[Row]:
    """The server's committed events of ``dev`` (SQLite or PostgreSQL, read-only)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(events.c.seq, events.c.id, events.c.type, events.c.hash, events.c.body)
            .where(events.c.dev_id == dev)
            .order_by(events.c.seq)
        ).all()
    return [Row(r.seq, r.id, r.type, r.hash, dict(r.body)) for r in rows]


def _key(row: Row) -> str | None:
    """What a confirmed save is known by: its step note, the batch it opened, or the
    receiving lot of a receipt (issue 15)."""
    if row.type == "step.recorded":
        note = row.body.get("note")
        return f"note:{note}" if isinstance(note, str) and note else None
    if row.type == "batch.opened":
        batch = row.body.get("batch")
        return f"batch:{batch}" if isinstance(batch, str) else None
    if row.type == "input.received":
        lot = row.body.get("lot")
        return f"receipt:{lot}" if isinstance(lot, str) else None
    return None


def check_device(
    dev: str, journal: list[Row], server: list[Row], confirmed: set[str]
) -> DeviceReport:
    """Compare one device; ``confirmed`` holds ``note:<n>`` / ``batch:<id>`` keys."""
    rep = DeviceReport(dev, journal=len(journal), server=len(server), confirmed=len(confirmed))
    on_server: dict[int, Row] = {}
    seq_count = Counter(r.seq for r in server)
    for seq, n in seq_count.items():
        if n > 1:
            rep.duplicated += n - 1
            rep.note(f"seq {seq} committed {n} times")
    for r in server:
        on_server.setdefault(r.seq, r)
    # The same event (by id, or the same confirmed note) at several seqs: all but the first
    # seq are duplicates; a row found both ways counts once.
    extra: set[int] = set()
    by_id: dict[str, list[int]] = {}
    by_note: dict[str, list[int]] = {}
    for r in on_server.values():
        by_id.setdefault(r.id, []).append(r.seq)
        key = _key(r)
        if key is not None and key.startswith("note:"):
            by_note.setdefault(key, []).append(r.seq)
    for what, groups in (("event id", by_id), ("", by_note)):
        for name, seqs in groups.items():
            if len(seqs) > 1:
                extra.update(sorted(seqs)[1:])
                rep.note(f"{what} {name} committed at seqs {_ranges(sorted(seqs))}".strip())
    rep.duplicated += len(extra)
    server_keys = {k for r in on_server.values() if (k := _key(r)) is not None}
    lost_seqs: set[int] = set()
    for r in journal:
        theirs = on_server.get(r.seq)
        if theirs is None:
            lost_seqs.add(r.seq)
        elif theirs.hash != r.hash:
            rep.forks += 1
            rep.note(f"seq {r.seq}: server hash {theirs.hash[:12]} != journal {r.hash[:12]}")
    rep.lost += len(lost_seqs)
    if lost_seqs:
        rep.note(f"journal seqs not on the server: {_ranges(sorted(lost_seqs))}")
    journal_seq = {k: r.seq for r in journal if (k := _key(r)) is not None}
    for key in sorted(confirmed):
        if key in server_keys:
            continue
        at = journal_seq.get(key)
        if at is not None and at in lost_seqs:
            continue  # already counted as a lost journal seq
        rep.lost += 1
        where = f"journal seq {at}" if at is not None else "not in the journal either"
        rep.note(f"confirmed {key} not on the server ({where})")
    if on_server:
        top = max(on_server)
        holes = [s for s in range(1, top + 1) if s not in on_server]
        rep.gaps = len(holes)
        if holes:
            rep.note(f"server holes below {top}: {_ranges(holes)}")
    return rep


def _ranges(seqs: list[int]) -> str:
    """Compact "3-7, 12" form for messages."""
    out: list[str] = []
    start = prev = seqs[0]
    for s in [*seqs[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        out.append(f"{start}-{prev}" if prev != start else str(start))
        if s is not None:
            start = prev = s
    return ", ".join(out[:8]) + (" …" if len(out) > 8 else "")


def check_all(devices: list[tuple[str, Path, set[str]]], server: Engine) -> list[DeviceReport]:
    """Run :func:`check_device` for each ``(dev, journal path, confirmed keys)``."""
    return [
        check_device(dev, journal_rows(path), server_rows(server, dev), confirmed)
        for dev, path, confirmed in devices
    ]
