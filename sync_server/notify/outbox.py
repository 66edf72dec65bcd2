"""The mails owed (``notify_outbox``): queue new alerts for their subscribers, claim due rows for
one sender, record what came of each send.

Several ingest processes may run the notification loop at once. Queueing and claiming run in one
transaction that first takes a lock (SQLite's ``BEGIN IMMEDIATE`` write lock; on PostgreSQL a
transaction advisory lock, as :func:`sync_server.store.alerts.raise_alert` does), and the unique
(username, alert) index makes a row owed once. A claim sets ``not_before`` to a lease: another
process leaves the row alone until the sender has recorded the result, or until the lease has
run out (the sender died: the mail is tried again, so it may arrive twice, never not at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from sync_server.notify import rules
from sync_server.store.db import alerts, devices, facilities, users
from sync_server.store.office_tables import notify_outbox, notify_subscriptions

# Alerts older than this are not queued any more (a server that was down for days does not
# mail its backlog of stale news at once).
LOOKBACK_S = 2 * 86400.0
# How long a sender owns the rows it claimed: well past an SMTP conversation's timeouts.
LEASE_S = 600.0


@dataclass(frozen=True)
class Owed:
    """One claimed row with what the mail tells about its alert."""

    id: int
    username: str
    email: str
    alert_id: int
    kind: str
    detail: str
    facility_code: str | None
    facility_name: str | None
    district: str | None
    dev_id: str | None
    device_name: str | None
    raised_at: float
    resolved_at: float | None


def lock(conn: Connection) -> None:
    """Make senders take turns for the rest of this transaction (PostgreSQL; SQLite's
    transactions already do, holding the write lock from BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext("notify_outbox"))))


def load_subscriptions(conn: Connection, username: str | None = None) -> list[rules.Subscription]:
    query = select(notify_subscriptions).order_by(notify_subscriptions.c.id)
    if username is not None:
        query = query.where(notify_subscriptions.c.username == username)
    return [
        rules.Subscription(
            username=r["username"],
            scope=r["scope"],
            value=r["value"],
            kinds=None if r["kinds"] is None else frozenset(r["kinds"]),
            mode=r["mode"],
            created_at=float(r["created_at"]),
        )
        for r in conn.execute(query).mappings()
    ]


def load_recipients(conn: Connection) -> dict[str, rules.Recipient]:
    """Enabled accounts with an e-mail address; admins see the province."""
    rows = conn.execute(
        select(users.c.username, users.c.email, users.c.role, users.c.districts).where(
            users.c.disabled_at.is_(None), users.c.email.is_not(None), users.c.email != ""
        )
    )
    return {
        r.username: rules.Recipient(
            username=r.username,
            email=str(r.email),
            districts=None
            if r.role == "admin" or r.districts is None
            else frozenset(str(d) for d in r.districts),
        )
        for r in rows
    }


def _alert_query() -> Any:
    facility = func.coalesce(alerts.c.facility_code, devices.c.facility_code)
    return (
        select(
            alerts.c.id,
            alerts.c.kind,
            alerts.c.detail,
            facility.label("facility_code"),
            facilities.c.name.label("facility_name"),
            facilities.c.district,
            alerts.c.dev_id,
            devices.c.name.label("device_name"),
            alerts.c.created_at,
            alerts.c.resolved_at,
        )
        .select_from(alerts)
        .outerjoin(devices, devices.c.dev_id == alerts.c.dev_id)
        .outerjoin(facilities, facilities.c.code == facility)
    )


def queue_new(conn: Connection, now: float) -> int:
    """Queue every alert raised since its subscribers subscribed (and within
    :data:`LOOKBACK_S`) for each of them, once. Returns how many rows were added."""
    subs = load_subscriptions(conn)
    if not subs:
        return 0
    people = load_recipients(conn)
    since = max(now - LOOKBACK_S, min(s.created_at for s in subs))
    found = conn.execute(_alert_query().where(alerts.c.created_at >= since)).mappings().all()
    if not found:
        return 0
    queued = {
        (r.username, r.alert_id)
        for r in conn.execute(
            select(notify_outbox.c.username, notify_outbox.c.alert_id).where(
                notify_outbox.c.alert_id >= min(int(a["id"]) for a in found)
            )
        )
    }
    added = []
    for a in found:
        facts = rules.AlertFacts(
            id=int(a["id"]),
            kind=a["kind"],
            facility_code=a["facility_code"],
            district=a["district"],
            dev_id=a["dev_id"],
            created_at=float(a["created_at"]),
        )
        for username, digest in rules.recipients(facts, subs, people).items():
            if (username, facts.id) in queued:
                continue
            added.append(
                {
                    "username": username,
                    "alert_id": facts.id,
                    "kind": facts.kind,
                    "facility_code": facts.facility_code,
                    "dev_id": facts.dev_id,
                    "digest": digest,
                    "created_at": now,
                    "suppressed": False,
                    "attempts": 0,
                }
            )
    if added:
        conn.execute(insert(notify_outbox), added)
    return len(added)


def _key(row: Any) -> str:
    return rules.throttle_key(row.username, row.kind, row.dev_id, row.facility_code)


def _free(now: float) -> Any:
    return or_(notify_outbox.c.not_before.is_(None), notify_outbox.c.not_before <= now)


def claim_immediate(conn: Connection, now: float, window_s: float) -> list[list[Owed]]:
    """Claim the immediate mails due now under the throttle: one list (one mail) per key."""
    pending_rows = conn.execute(
        select(notify_outbox).where(
            notify_outbox.c.sent_at.is_(None), notify_outbox.c.digest.is_(False)
        )
    ).all()
    if not pending_rows:
        return []
    last_sent: dict[str, float] = {}
    recent = conn.execute(
        select(notify_outbox).where(
            notify_outbox.c.digest.is_(False), notify_outbox.c.sent_at >= now - window_s
        )
    )
    for r in recent:
        last_sent[_key(r)] = max(last_sent.get(_key(r), 0.0), float(r.sent_at))
    pending = [
        rules.Pending(r.id, _key(r), float(r.created_at), r.not_before) for r in pending_rows
    ]
    groups = rules.due_groups(pending, last_sent, now, window_s)
    ids = [p.id for g in groups for p in g]
    if not ids:
        return []
    owed = {o.id: o for o in _claim(conn, ids, now)}
    return [[owed[p.id] for p in g if p.id in owed] for g in groups]


def claim_digests(conn: Connection, now: float, hour: int) -> list[list[Owed]]:
    """Claim each person's digest rows queued before the last digest moment: one list (one
    mail) per person whose rows are all free."""
    cutoff = rules.digest_cutoff(now, hour)
    rows = conn.execute(
        select(notify_outbox.c.id, notify_outbox.c.username, notify_outbox.c.not_before).where(
            notify_outbox.c.sent_at.is_(None),
            notify_outbox.c.digest.is_(True),
            notify_outbox.c.created_at < cutoff,
        )
    ).all()
    by_user: dict[str, list[int]] = {}
    blocked = set()
    for r in rows:
        by_user.setdefault(r.username, []).append(r.id)
        if r.not_before is not None and r.not_before > now:
            blocked.add(r.username)
    ids = [i for user, mine in by_user.items() if user not in blocked for i in mine]
    if not ids:
        return []
    mails: dict[str, list[Owed]] = {}
    for o in _claim(conn, ids, now):
        mails.setdefault(o.username, []).append(o)
    return [sorted(m, key=lambda o: (o.raised_at, o.id)) for m in mails.values()]


def _claim(conn: Connection, ids: list[int], now: float) -> list[Owed]:
    """Lease the rows of ``ids`` still unsent and free (the caller holds :func:`lock`)."""
    free = list(
        conn.execute(
            select(notify_outbox.c.id).where(
                notify_outbox.c.id.in_(ids), notify_outbox.c.sent_at.is_(None), _free(now)
            )
        ).scalars()
    )
    if not free:
        return []
    conn.execute(
        update(notify_outbox).where(notify_outbox.c.id.in_(free)).values(not_before=now + LEASE_S)
    )
    a = _alert_query().subquery()
    query = (
        select(
            notify_outbox.c.id.label("row_id"),
            notify_outbox.c.username,
            users.c.email,
            users.c.disabled_at.label("user_disabled_at"),
            a,
        )
        .select_from(notify_outbox)
        .join(a, a.c.id == notify_outbox.c.alert_id)
        .join(users, users.c.username == notify_outbox.c.username)
        .where(notify_outbox.c.id.in_(free))
    )
    return [
        Owed(
            id=int(r["row_id"]),
            username=r["username"],
            # A disabled account is mailed nothing, even what was queued before.
            email="" if r["user_disabled_at"] is not None else str(r["email"] or ""),
            alert_id=int(r["id"]),
            kind=r["kind"],
            detail=r["detail"],
            facility_code=r["facility_code"],
            facility_name=r["facility_name"],
            district=r["district"],
            dev_id=r["dev_id"],
            device_name=r["device_name"],
            raised_at=float(r["created_at"]),
            resolved_at=r["resolved_at"],
        )
        for r in conn.execute(query).mappings()
    ]


def mark_sent(conn: Connection, mail: list[Owed], now: float) -> None:
    """The mail went: its rows are sent, all but the one it is about folded into it."""
    headline = mail[-1].id
    conn.execute(
        update(notify_outbox)
        .where(notify_outbox.c.id.in_([o.id for o in mail]))
        .values(
            sent_at=now,
            not_before=None,
            error=None,
            suppressed=notify_outbox.c.id != headline,
        )
    )


def mark_failed(conn: Connection, mail: list[Owed], now: float, error: str) -> None:
    """The mail did not go: count the attempt and wait before the next (never given up)."""
    ids = [o.id for o in mail]
    attempts = conn.execute(
        select(func.max(notify_outbox.c.attempts)).where(notify_outbox.c.id.in_(ids))
    ).scalar_one()
    conn.execute(
        update(notify_outbox)
        .where(notify_outbox.c.id.in_(ids))
        .values(
            attempts=notify_outbox.c.attempts + 1,
            error=error[:500],
            not_before=now + rules.backoff_s(int(attempts or 0) + 1),
        )
    )


def outbox_summary(conn: Connection, username: str | None) -> dict[str, int]:
    """Counts for the subscriptions page: owed, sent, failing (tried and not yet sent)."""
    mine = [] if username is None else [notify_outbox.c.username == username]
    row = conn.execute(
        select(
            func.count().filter(notify_outbox.c.sent_at.is_(None)),
            func.count().filter(notify_outbox.c.sent_at.is_not(None)),
            func.count().filter(
                and_(notify_outbox.c.sent_at.is_(None), notify_outbox.c.attempts > 0)
            ),
        ).where(*mine)
    ).one()
    return {"pending": int(row[0]), "sent": int(row[1]), "failing": int(row[2])}


def recent_rows(conn: Connection, username: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest outbox rows (one person's, or everyone's for an admin) for the page."""
    query = (
        select(notify_outbox, alerts.c.detail)
        .join(alerts, alerts.c.id == notify_outbox.c.alert_id)
        .order_by(notify_outbox.c.id.desc())
        .limit(limit)
    )
    if username is not None:
        query = query.where(notify_outbox.c.username == username)
    return [dict(r) for r in conn.execute(query).mappings()]
