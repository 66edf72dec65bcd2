"""Officers' e-mail subscriptions: add (within their district scope), list, remove."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from sync_server.accounts.audit import record
from sync_server.accounts.scopes import Scope
from sync_server.notify.rules import DISTRICT, FACILITY, MODES, PROVINCE, SCOPES
from sync_server.store.db import facilities
from sync_server.store.office_tables import notify_subscriptions
from trace_protocol.locales import N_


class SubscriptionError(ValueError):
    """A subscription that cannot be made; the message is a gettext id."""


def districts_in(conn: Connection, scope: Scope) -> list[str]:
    """The districts a person may subscribe to: those of the facilities they can see."""
    rows = conn.execute(
        select(facilities.c.district)
        .where(scope.facilities(facilities.c.code), facilities.c.district.is_not(None))
        .distinct()
        .order_by(facilities.c.district)
    )
    return [str(d) for d in rows.scalars() if d]


def facilities_in(conn: Connection, scope: Scope) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(facilities.c.code, facilities.c.name)
        .where(scope.facilities(facilities.c.code))
        .order_by(facilities.c.name)
    )
    return [(str(r.code), str(r.name)) for r in rows]


def add_subscription(
    conn: Connection,
    username: str,
    scope: Scope,
    where: str,
    value: str,
    kinds: Iterable[str] | None,
    mode: str,
    known_kinds: Iterable[str],
    now: float | None = None,
) -> int:
    """Subscribe ``username`` to alerts of ``kinds`` (None: all) in the province, a district
    or a facility it can see; recorded in the audit log."""
    if where not in SCOPES or mode not in MODES:
        raise SubscriptionError(N_("notify_bad_form"))
    value = value.strip() if where != PROVINCE else ""
    # "The province" for a district officer means their districts: rules.recipients always
    # keeps a person's mail within their scope.
    if where == DISTRICT and value not in districts_in(conn, scope):
        raise SubscriptionError(N_("notify_out_of_scope"))
    if where == FACILITY and all(code != value for code, _ in facilities_in(conn, scope)):
        raise SubscriptionError(N_("notify_out_of_scope"))
    chosen = None if kinds is None else sorted(set(kinds))
    if chosen is not None and (not chosen or not set(chosen) <= set(known_kinds)):
        raise SubscriptionError(N_("notify_bad_form"))
    values = {
        "username": username,
        "scope": where,
        "value": value,
        "kinds": chosen,
        "mode": mode,
        "created_at": time.time() if now is None else now,
    }
    inserted = conn.execute(insert(notify_subscriptions).values(**values)).inserted_primary_key
    sub_id = int(inserted[0]) if inserted else 0
    record(
        conn,
        username,
        "notify.subscribe",
        username,
        facility=value if where == FACILITY else None,
        after={k: v for k, v in values.items() if k != "created_at"},
    )
    return sub_id


def list_subscriptions(conn: Connection, username: str | None) -> list[dict[str, Any]]:
    """One person's subscriptions, or everyone's (``username`` None: for admins)."""
    query = select(notify_subscriptions).order_by(
        notify_subscriptions.c.username, notify_subscriptions.c.id
    )
    if username is not None:
        query = query.where(notify_subscriptions.c.username == username)
    return [dict(r) for r in conn.execute(query).mappings()]


def remove_subscription(conn: Connection, sub_id: int, username: str, admin: bool) -> bool:
    """Remove a subscription of one's own (an admin: anyone's); False when there is none."""
    row = (
        conn.execute(select(notify_subscriptions).where(notify_subscriptions.c.id == sub_id))
        .mappings()
        .first()
    )
    if row is None or (row["username"] != username and not admin):
        return False
    conn.execute(delete(notify_subscriptions).where(notify_subscriptions.c.id == sub_id))
    before = {k: row[k] for k in ("username", "scope", "value", "kinds", "mode")}
    record(conn, username, "notify.unsubscribe", str(row["username"]), before=before)
    return True
