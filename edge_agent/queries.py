"""Read models for the touchscreen and the CLIs: batches, their steps, photos and print jobs.

Each function takes a connection from ``EdgeDatabase.read()`` (or the writer, inside a journal
transaction) and returns plain rows; callers that need several reads to agree make them in one
``read()`` block, which is one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database


@dataclass(frozen=True)
class BatchRow:
    batch_id: str
    lot: str
    product_code: str
    product_name: str
    production_date: str
    status: str
    opened_at: str
    quantity: float | None
    unit: str | None
    expiry_date: str | None
    last_seq: int


@dataclass(frozen=True)
class BatchTile:
    """A batch as the home screen lists it."""

    batch_id: str
    lot: str
    product_code: str
    product_name: str
    status: str
    production_date: str
    quantity: float | None
    unit: str | None


@dataclass(frozen=True)
class StepRow:
    seq: int
    step_code: str
    step_name: str
    measured: str  # JSON object of the values, as recorded
    note: str
    at: str


@dataclass(frozen=True)
class JobView:
    id: int
    seq: int
    kind: str
    copies: int
    done: int
    state: str
    error: str


def journal_head(db: Database) -> int:
    """The seq of the newest event (0 for an empty journal)."""
    row = db.conn.execute("SELECT MAX(seq) FROM events").fetchone()
    return int(row[0] or 0)


def get_batch(db: Database, batch_id: str) -> BatchRow | None:
    row = db.conn.execute(
        "SELECT batch_id, lot, product_code, product_name, production_date, status, opened_at,"
        " quantity, unit, expiry_date, last_seq FROM batches WHERE batch_id = ?",
        (batch_id,),
    ).fetchone()
    return BatchRow(*row) if row else None


def batch_id_for_lot(db: Database, lot: str) -> str | None:
    row = db.conn.execute("SELECT batch_id FROM batches WHERE lot = ?", (lot,)).fetchone()
    return str(row[0]) if row else None


def recent_batches(db: Database, limit: int = 30) -> list[BatchTile]:
    """Open batches first, then closed ones; newest first within each."""
    rows = db.conn.execute(
        "SELECT batch_id, lot, product_code, product_name, status, production_date, quantity,"
        " unit FROM batches ORDER BY status = 'closed', opened_seq DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [BatchTile(*r) for r in rows]


def batch_steps(db: Database, batch_id: str) -> list[StepRow]:
    rows = db.conn.execute(
        "SELECT seq, step_code, step_name, measured, note, at FROM steps"
        " WHERE batch_id = ? ORDER BY seq",
        (batch_id,),
    ).fetchall()
    return [StepRow(*r) for r in rows]


def batch_thumbnails(db: Database, batch_id: str) -> dict[str, str]:
    """The batch's photos still on disk: full image sha256 -> its thumbnail's sha256."""
    return dict(
        db.conn.execute(
            "SELECT f.photo_sha256, f.sha256 FROM photo_files f JOIN photos p"
            " ON p.sha256 = f.photo_sha256 WHERE p.batch_id = ? AND f.kind = 'thumb'"
            " AND f.evicted_at IS NULL",
            (batch_id,),
        ).fetchall()
    )


def step_event_bodies(db: Database, batch_id: str) -> list[tuple[int, str]]:
    """``(seq, body JSON)`` of the batch's ``step.recorded`` events (they name their photos)."""
    rows = db.conn.execute(
        "SELECT e.seq, e.body FROM events e JOIN steps s ON s.seq = e.seq WHERE s.batch_id = ?",
        (batch_id,),
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def print_jobs(db: Database, batch_id: str) -> list[JobView]:
    rows = db.conn.execute(
        "SELECT id, seq, kind, copies, done, state, error FROM print_jobs"
        " WHERE batch_id = ? ORDER BY id",
        (batch_id,),
    ).fetchall()
    return [
        JobView(
            id=r[0],
            seq=r[1],
            kind=r[2],
            copies=r[3],
            done=r[4],
            state=r[5],
            error=str(r[6]).split("|")[0],
        )
        for r in rows
    ]


def print_job_for_event(db: Database, seq: int) -> int | None:
    """The print job queued with the ``labels.printed`` event ``seq``."""
    row = db.conn.execute("SELECT id FROM print_jobs WHERE seq = ?", (seq,)).fetchone()
    return int(row[0]) if row else None
