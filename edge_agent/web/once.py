"""Forms that act once: a token per rendered form, remembered with the event it caused.

Two taps 80 ms apart post the same form twice (issue 13). Every form that writes carries a
fresh ``form_token``; the first submit records it inside the event's own transaction, with the
page it led to (``edge_agent/form_tokens.py``). A later submit of the same token writes nothing
and is sent to that same page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Flask, request
from sqlite_utils import Database

from edge_agent import form_tokens
from edge_agent.form_tokens import AlreadyDone as AlreadyDone  # views catch it from here
from edge_agent.journal import Journal
from trace_protocol.envelope import Event

FIELD = "form_token"
MAX_LEN = 64


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
    with journal.store.read() as db:
        return form_tokens.location_of(db, token)


def remember(
    token: str | None, location: Callable[[Event], str]
) -> Callable[[Database, Event], None] | None:
    """An ``after`` hook for :meth:`Journal.append`: records the token with the event, or
    raises :class:`AlreadyDone` (rolling the event back) when a concurrent submit won."""
    if token is None:
        return None

    def after(db: Database, event: Event) -> None:
        form_tokens.record(db, token, location(event), event.seq)

    return after


def install_form_tokens(app: Flask) -> None:
    app.jinja_env.globals["form_token"] = new_token
