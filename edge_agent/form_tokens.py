"""The ``form_tokens`` table: which rendered forms were carried out, and where each one led.

Two taps 80 ms apart post the same form twice (issue 13). The first submit records its form's
token here inside the event's own transaction, with the page it led to; a later submit of the
same token writes nothing and is sent to that same page (``edge_agent/web/once.py``). The table
lives in the journal database, so the answer survives a restart; rows older than
:data:`KEEP_S` are dropped as new ones are written.
"""

from __future__ import annotations

import sqlite3
import time

from sqlite_utils import Database

KEEP_S = 7 * 86400


class AlreadyDone(Exception):
    """This form's token was used: ``location`` is where its first submit led."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def location_of(db: Database, token: str) -> str | None:
    """Where the first submit of ``token`` led, if it was carried out."""
    row = db.conn.execute("SELECT location FROM form_tokens WHERE token = ?", (token,)).fetchone()
    return str(row[0]) if row else None


def record(db: Database, token: str, location: str, seq: int) -> None:
    """Remember ``token`` with the event ``seq`` it caused, inside that event's transaction; raise
    :class:`AlreadyDone` (rolling the event back) when a concurrent submit won."""
    now = time.time()
    db.conn.execute("DELETE FROM form_tokens WHERE used_at < ?", (now - KEEP_S,))
    try:
        db.conn.execute(
            "INSERT INTO form_tokens (token, location, seq, used_at) VALUES (?, ?, ?, ?)",
            (token, location, seq, now),
        )
    except sqlite3.IntegrityError:
        raise AlreadyDone(location_of(db, token) or location) from None
