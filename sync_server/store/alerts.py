"""Alerts for the OCOP office: raised once per device and kind until someone resolves them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from sync_server.store.db import alerts

QUARANTINE_KINDS = ("fork", "chain_break", "bad_signature", "bad_hash", "bad_body", "revoked")


def raise_alert(
    conn: Connection,
    dev: str | None,
    facility: str | None,
    kind: str,
    detail: str,
    subject: str | None = None,
) -> bool:
    """Record an alert unless the same device already has an open one of this kind (and
    subject, for kinds a device can have several of, such as suspicious scans per code)."""
    if conn.dialect.name == "postgresql":
        # Check-then-insert: under READ COMMITTED two workers' sweeps (or two scans) would both
        # see no open alert. This lock, held until commit, makes them take turns; SQLite's
        # BEGIN IMMEDIATE already does.
        key = func.hashtext(f"alert|{dev}|{kind}|{subject}")
        conn.execute(select(func.pg_advisory_xact_lock(key)))
    same_dev = alerts.c.dev_id.is_(None) if dev is None else alerts.c.dev_id == dev
    same_subject = alerts.c.subject.is_(None) if subject is None else alerts.c.subject == subject
    open_same = conn.execute(
        select(alerts.c.id).where(
            same_dev, same_subject, alerts.c.kind == kind, alerts.c.resolved_at.is_(None)
        )
    ).first()
    if open_same is not None:
        return False
    conn.execute(
        insert(alerts).values(
            dev_id=dev,
            facility_code=facility,
            kind=kind,
            subject=subject,
            detail=detail[:1000],
            created_at=time.time(),
        )
    )
    return True


def open_alerts(
    conn: Connection, facility: str | None = None, dev: str | None = None
) -> list[dict[str, Any]]:
    query = select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.id)
    if facility is not None:
        query = query.where(alerts.c.facility_code == facility)
    if dev is not None:
        query = query.where(alerts.c.dev_id == dev)
    return [dict(r) for r in conn.execute(query).mappings()]


def resolve_alert(conn: Connection, alert_id: int, by: str) -> bool:
    """Mark one open alert resolved by an office user; False when it was not open."""
    done = conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.resolved_at.is_(None))
        .values(resolved_at=time.time(), resolved_by=by)
    )
    return bool(done.rowcount)


def resolve_alerts(conn: Connection, dev: str | None, kind: str, by: str) -> int:
    """Resolve every open alert of this device and kind (e.g. a silent device heard again)."""
    done = conn.execute(
        update(alerts)
        .where(alerts.c.dev_id == dev, alerts.c.kind == kind, alerts.c.resolved_at.is_(None))
        .values(resolved_at=time.time(), resolved_by=by)
    )
    return int(done.rowcount)
