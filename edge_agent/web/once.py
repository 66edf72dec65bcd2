"""Forms that act once: a token per rendered form, remembered with the event it caused.

Two taps 80 ms apart post the same form twice (issue 13). Every form that writes carries a
fresh ``form_token``; the first submit records it in ``form_tokens`` inside the event's own
transaction, with the page it led to. A later submit of the same token writes nothing and is
sent to that same page. The table lives in the journal database, so the answer survives a
restart; rows older than :data:`KEEP_S` are dropped as new ones are written.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable

from flask import Flask, request
from sqlite_utils import Database

from edge_agent.journal import Journal
from trace_protocol.envelope import Event

FIELD = "form_token"
KEEP_S = 7 * 86400
MAX_LEN = 64


class AlreadyDone(Exception):
    """This form's token was used: ``location`` is where its first submit led."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def new_token() -> str:
    """A token for one rendered form (``{{ form_token() }}`` in templates)."""
    return secrets.token_urlsafe(16)


def submitted_token() -> str | None:
    """The posted form's token; None for clients that send none (tools, old pages)."""
    token = request.form.get(FIELD, "")
    return token if 0 < len(token) <= MAX_LEN else None


def done_before(journal: Journal, token: str | None) -> str | None:
    """Where the first submit of ``token`` led, if it was carried out."""
    if token is None:
        return None
    with journal.lock:
        row = journal.db.conn.execute(
            "SELECT location FROM form_tokens WHERE token = ?", (token,)
        ).fetchone()
    return str(row[0]) if row else None


def remember(
    token: str | None, location: Callable[[Event], str]
) -> Callable[[Database, Event], None] | None:
    """An ``after`` hook for :meth:`Journal.append`: records the token with the event, or
    raises :class:`AlreadyDone` (rolling the event back) when a concurrent submit won."""
    if token is None:
        return None

    def after(db: Database, event: Event) -> None:
        now = time.time()
        db.conn.execute("DELETE FROM form_tokens WHERE used_at < ?", (now - KEEP_S,))
        try:
            db.conn.execute(
                "INSERT INTO form_tokens (token, location, seq, used_at) VALUES (?, ?, ?, ?)",
                (token, location(event), event.seq, now),
            )
        except sqlite3.IntegrityError:
            first = db.conn.execute(
                "SELECT location FROM form_tokens WHERE token = ?", (token,)
            ).fetchone()
            raise AlreadyDone(str(first[0])) from None

    return after


def install_form_tokens(app: Flask) -> None:
    app.jinja_env.globals["form_token"] = new_token
