"""Office accounts (hashed passwords, roles) and API tokens for machine clients."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from sync_server.accounts.audit import changes, cli_actor, record
from sync_server.accounts.sessions import end_user_sessions
from sync_server.store.db import api_tokens, facilities, users

ROLES = ("admin", "officer")
MIN_PASSWORD = 10
MAX_EMAIL = 254
# One @, something on each side, a dot in the domain, no spaces: what a form can check; the
# mail server says the rest.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Checked against when a username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8))


class AccountError(ValueError):
    """An account action that cannot be done; the message says why."""


class Unset:
    """A keyword left out of :func:`set_user` (None means "none")."""


UNSET = Unset()


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


def _actor(by: str | None) -> str:
    return cli_actor() if by is None else by


def check_email(email: str | None) -> str | None:
    """A cleaned e-mail address, or None for none; raises :class:`AccountError` when it is
    not one."""
    email = (email or "").strip()
    if not email:
        return None
    if len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
        raise AccountError(f"not an e-mail address: {email}")
    return email


def known_districts(conn: Connection) -> list[str]:
    """The districts the facilities table holds, which an officer may be limited to."""
    rows = conn.execute(
        select(facilities.c.district)
        .where(facilities.c.district.is_not(None), facilities.c.district != "")
        .distinct()
        .order_by(facilities.c.district)
    )
    return [str(d) for d in rows.scalars()]


def _check_districts(
    conn: Connection, role: str, districts: Iterable[str] | None
) -> list[str] | None:
    """The districts to store: None (the whole province) for none; each must be a facility's."""
    chosen = sorted({d.strip() for d in districts or () if d.strip()})
    if not chosen:
        return None
    if role == "admin":
        raise AccountError("an admin sees the whole province: districts are for officers")
    unknown = [d for d in chosen if d not in known_districts(conn)]
    if unknown:
        raise AccountError(f"no facility is in district {', '.join(unknown)}")
    return chosen


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    districts: Iterable[str] | None = None,
    email: str | None = None,
    by: str | None = None,
) -> None:
    """Create an account; the audit log's ``user.create`` row names ``by`` (default: the
    command-line user) and holds role, districts and e-mail, never the password."""
    if not USERNAME_RE.match(username):
        raise AccountError(
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password)
    address = check_email(email)
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise AccountError(f"user {username} already exists")
        limited = _check_districts(conn, role, districts)
        conn.execute(
            insert(users).values(
                username=username,
                password_hash=generate_password_hash(password),
                role=role,
                created_at=time.time(),
                session_epoch=1,
                districts=limited,
                email=address,
            )
        )
        record(
            conn,
            _actor(by),
            "user.create",
            username,
            after={"role": role, "districts": limited, "email": address},
        )


def set_user(
    engine: Engine,
    username: str,
    *,
    districts: Iterable[str] | Unset | None = UNSET,
    email: str | Unset | None = UNSET,
    by: str | None = None,
) -> bool:
    """Change an account's districts (none: the whole province) and/or e-mail address; returns
    whether anything changed (a ``user.edit`` audit row then, with the values before and after).

    A districts change takes effect on the user's next request (the user is loaded per request);
    their sessions go on.
    """
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            raise AccountError(f"no user {username}")
        old = {"districts": row["districts"], "email": row["email"]}
        new = dict(old)
        if not isinstance(districts, Unset):
            new["districts"] = _check_districts(conn, row["role"], districts)
        if not isinstance(email, Unset):
            new["email"] = check_email(email)
        before, after = changes(old, new)
        if not after and not before:
            return False
        conn.execute(update(users).where(users.c.username == username).values(**new))
        record(conn, _actor(by), "user.edit", username, before=before, after=after)
    return True


def set_password(engine: Engine, username: str, password: str, *, by: str | None = None) -> None:
    """Change a password; every open session of the user ends (``user.password`` audit row,
    without the password)."""
    check_password_rules(password)
    _end_sessions(
        engine,
        username,
        _actor(by),
        "user.password",
        password_hash=generate_password_hash(password),
    )


def disable_user(engine: Engine, username: str, *, by: str | None = None) -> None:
    """Disable an account; every open session of the user ends (``user.disable`` audit row)."""
    _end_sessions(engine, username, _actor(by), "user.disable", disabled_at=time.time())


def _end_sessions(engine: Engine, username: str, by: str, action: str, **values: object) -> None:
    """Update the account and bump its session epoch, so older session cookies stop working."""
    with engine.begin() as conn:
        was = conn.execute(select(users.c.disabled_at).where(users.c.username == username)).first()
        done = conn.execute(
            update(users)
            .where(users.c.username == username)
            .values(session_epoch=users.c.session_epoch + 1, **values)
        )
        if done.rowcount == 0 or was is None:
            raise AccountError(f"no user {username}")
        end_user_sessions(conn, username)
        if action == "user.disable":
            record(
                conn,
                by,
                action,
                username,
                before={"disabled": was[0] is not None},
                after={"disabled": True},
            )
        else:
            record(conn, by, action, username, detail="password changed; sessions ended")


def authenticate(engine: Engine, username: str, password: str, *, place: str = "") -> User | None:
    """The user when name and password match an enabled account; None otherwise. Either way
    the audit log gets a row: ``login`` or ``login.failed`` under the name typed (never the
    password), with the client's network (``place``) as detail."""
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None or row["disabled_at"] is not None:
            check_password_hash(_DUMMY_HASH, password)
            record(conn, username, "login.failed", username, detail=place)
            return None
        if not check_password_hash(row["password_hash"], password):
            record(conn, username, "login.failed", username, detail=place)
            return None
        conn.execute(
            update(users).where(users.c.username == username).values(last_login_at=time.time())
        )
        record(conn, username, "login", username, detail=place)
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
            users.c.districts,
            users.c.email,
        ).order_by(users.c.username)
    ).mappings()
    return [dict(r) for r in rows]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(engine: Engine, name: str, *, by: str | None = None) -> str:
    """A new bearer token for machine clients (e.g. a national portal); returned once. The
    audit row (``api_token.create``) names the token, never holds it."""
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
        record(conn, _actor(by), "api_token.create", name)
    return token


def revoke_api_token(engine: Engine, name: str, *, by: str | None = None) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        if done.rowcount == 0:
            raise AccountError(f"no active API token named {name}")
        record(conn, _actor(by), "api_token.revoke", name)


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
