"""Office sessions kept on the server: logging out ends a session even if its cookie was copied.

The session cookie carries a random id; the database keeps only its SHA-256, the user and when it
expires. A session is valid while its row exists and has not expired; logging out deletes the
row (issue 12, finding 9). Password changes and disabled accounts still end every session of the
user through the account's session epoch (sync_server/accounts/users.py), and delete their rows too.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Connection, Engine, delete, insert, select

from sync_server.accounts.audit import record
from sync_server.store.db import office_sessions


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(engine: Engine, username: str, lifetime_s: float) -> str:
    """A new session of ``username``; returns the id for the cookie (never stored as is)."""
    sid = secrets.token_urlsafe(32)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(delete(office_sessions).where(office_sessions.c.expires_at < now))
        conn.execute(
            insert(office_sessions).values(
                id_hash=_hash(sid), username=username, created_at=now, expires_at=now + lifetime_s
            )
        )
    return sid


def session_username(conn: Connection, sid: str) -> str | None:
    """The user of a live session, or None when it ended, expired or never existed."""
    row = conn.execute(
        select(office_sessions.c.username, office_sessions.c.expires_at).where(
            office_sessions.c.id_hash == _hash(sid)
        )
    ).first()
    if row is None or row.expires_at <= time.time():
        return None
    return str(row.username)


def end_session(engine: Engine, sid: str) -> None:
    """Log out: the session's row goes, and the audit log gets a ``logout`` row of its user."""
    with engine.begin() as conn:
        user = conn.execute(
            select(office_sessions.c.username).where(office_sessions.c.id_hash == _hash(sid))
        ).scalar()
        done = conn.execute(delete(office_sessions).where(office_sessions.c.id_hash == _hash(sid)))
        if user is not None and done.rowcount:
            record(conn, str(user), "logout", str(user))


def end_user_sessions(conn: Connection, username: str) -> None:
    conn.execute(delete(office_sessions).where(office_sessions.c.username == username))
