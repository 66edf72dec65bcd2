"""Projections: the tables the touchscreen shows, derived from journal events only."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlite_utils import Database

from edge_agent.supply_projections import HANDLERS as SUPPLY_HANDLERS
from trace_protocol import envelope as ev
from trace_protocol.envelope import Event


def _batch_opened(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT INTO batches (batch_id, lot, product_code, product_name, production_date,"
        " opened_seq, opened_at, status, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (
            b["batch"],
            b["lot"],
            b["product"]["code"],
            b["product"]["name"],
            b["production_date"],
            e.seq,
            e.at,
            e.seq,
        ),
    )


def _step_recorded(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT INTO steps (seq, batch_id, step_code, step_name, measured, note, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            b["batch"],
            b["step"],
            b["name"],
            json.dumps(b.get("values", {}), ensure_ascii=False),
            b.get("note", ""),
            e.at,
        ),
    )
    _touch(db, b["batch"], e.seq)


def _batch_closed(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "UPDATE batches SET status = 'closed', closed_seq = ?, closed_at = ?, quantity = ?,"
        " unit = ?, expiry_date = ?, last_seq = ? WHERE batch_id = ?",
        (e.seq, e.at, b["quantity"], b["unit"], b.get("expiry_date"), e.seq, b["batch"]),
    )


def _labels_printed(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT INTO label_runs (seq, batch_id, copies, formats, printer, files, at, kind,"
        " serial_from, serial_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            b["batch"],
            b["copies"],
            json.dumps(b.get("formats", [b.get("format", "")])),
            b["printer"],
            json.dumps(b.get("files", [])),
            e.at,
            b.get("kind", "batch"),
            b.get("serial_from"),
            b.get("serial_to"),
        ),
    )
    _touch(db, b["batch"], e.seq)


PHOTO_KINDS = (
    ("thumb_sha256", "thumb"),
    ("public_thumb_sha256", "public_thumb"),
    ("public_sha256", "public"),
    ("sha256", "full"),
)


def _snapshot_taken(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT OR IGNORE INTO photos (sha256, seq, camera, purpose, batch_id, taken_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (b["sha256"], e.seq, b["camera"], b["purpose"], b.get("batch"), e.at),
    )
    evidence = 0 if b["purpose"] == "periodic" else 1
    for key, kind in PHOTO_KINDS:
        if b.get(key):
            db.conn.execute(
                "INSERT OR IGNORE INTO photo_files (sha256, photo_sha256, kind, seq, evidence)"
                " VALUES (?, ?, ?, ?, ?)",
                (b[key], b["sha256"], kind, e.seq, evidence),
            )
    if b.get("batch"):
        _touch(db, b["batch"], e.seq)


def _touch(db: Database, batch_id: str, seq: int) -> None:
    db.conn.execute("UPDATE batches SET last_seq = ? WHERE batch_id = ?", (seq, batch_id))


_HANDLERS: dict[str, Callable[[Database, Event], None]] = {
    ev.BATCH_OPENED: _batch_opened,
    ev.STEP_RECORDED: _step_recorded,
    ev.BATCH_CLOSED: _batch_closed,
    ev.LABELS_PRINTED: _labels_printed,
    ev.SNAPSHOT_TAKEN: _snapshot_taken,
    **SUPPLY_HANDLERS,
}


def project(db: Database, event: Event) -> None:
    """Apply one event to the projections; types without a projection change nothing."""
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(db, event)
