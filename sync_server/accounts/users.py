"""Office accounts (hashed passwords, roles) and API tokens for machine clients."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from sync_server.accounts.sessions import end_user_sessions
from sync_server.store.db import api_tokens, users

ROLES = ("admin", "officer")
MIN_PASSWORD = 10
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Checked against when a username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8))


class AccountError(ValueError):
    """An account action that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    session_epoch: int
    # Issue 16: the districts this officer may see; None: the whole province (always for admins).
    districts: tuple[str, ...] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise AccountError("a password must not start or end with spaces")


def create_user(engine: Engine, username: str, password: str, role: str) -> None:
    if not USERNAME_RE.match(username):
        raise AccountError(
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password)
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise AccountError(f"user {username} already exists")
        conn.execute(
            insert(users).values(
                username=username,
                password_hash=generate_password_hash(password),
                role=role,
                created_at=time.time(),
                session_epoch=1,
            )
        )


def set_password(engine: Engine, username: str, password: str) -> None:
    """Change a password; every open session of the user ends."""
    check_password_rules(password)
    _end_sessions(engine, username, password_hash=generate_password_hash(password))


def disable_user(engine: Engine, username: str) -> None:
    """Disable an account; every open session of the user ends."""
    _end_sessions(engine, username, disabled_at=time.time())


def _end_sessions(engine: Engine, username: str, **values: object) -> None:
    """Update the account and bump its session epoch, so older session cookies stop working."""
    with engine.begin() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.username == username)
            .values(session_epoch=users.c.session_epoch + 1, **values)
        )
        if done.rowcount == 0:
            raise AccountError(f"no user {username}")
        end_user_sessions(conn, username)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user when name and password match an enabled account; None otherwise."""
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None or row["disabled_at"] is not None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        conn.execute(
            update(users).where(users.c.username == username).values(last_login_at=time.time())
        )
        return _user(row)


def _user(row: Any) -> User:
    districts = row["districts"]
    return User(
        row["username"],
        row["role"],
        row["session_epoch"],
        tuple(str(d) for d in districts) if isinstance(districts, list) else None,
    )


def load_user(conn: Connection, username: str, epoch: int) -> User | None:
    """The session's user, if the account is still enabled and the session not outdated."""
    row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
    if row is None or row["disabled_at"] is not None or row["session_epoch"] != epoch:
        return None
    return _user(row)


def list_users(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(
        select(
            users.c.username,
            users.c.role,
            users.c.created_at,
            users.c.disabled_at,
            users.c.last_login_at,
        ).order_by(users.c.username)
    ).mappings()
    return [dict(r) for r in rows]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(engine: Engine, name: str) -> str:
    """A new bearer token for machine clients (e.g. a national portal); returned once."""
    if not USERNAME_RE.match(name):
        raise AccountError("a token name is 2-64 characters: a-z, 0-9, '.', '_' or '-'")
    token = "ocop_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if conn.execute(select(api_tokens.c.name).where(api_tokens.c.name == name)).first():
            raise AccountError(f"an API token named {name} already exists")
        conn.execute(
            insert(api_tokens).values(
                token_hash=_token_hash(token), name=name, created_at=time.time()
            )
        )
    return token


def revoke_api_token(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        if done.rowcount == 0:
            raise AccountError(f"no active API token named {name}")


def check_api_token(engine: Engine, token: str) -> str | None:
    """The token's name when it is valid and not revoked."""
    digest = _token_hash(token)
    with engine.begin() as conn:
        row = conn.execute(
            select(api_tokens.c.name, api_tokens.c.revoked_at).where(
                api_tokens.c.token_hash == digest
            )
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == digest)
            .values(last_used_at=time.time())
        )
        return str(row.name)
