"""Alerts for the OCOP office: raised once per device and kind until someone resolves them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, insert, select

from sync_server.db import alerts

QUARANTINE_KINDS = ("fork", "chain_break", "bad_signature", "bad_hash", "bad_body", "revoked")


def raise_alert(
    conn: Connection, dev: str | None, facility: str | None, kind: str, detail: str
) -> bool:
    """Record an alert unless the same device already has an open one of this kind."""
    open_same = conn.execute(
        select(alerts.c.id).where(
            alerts.c.dev_id == dev, alerts.c.kind == kind, alerts.c.resolved_at.is_(None)
        )
    ).first()
    if open_same is not None:
        return False
    conn.execute(
        insert(alerts).values(
            dev_id=dev,
            facility_code=facility,
            kind=kind,
            detail=detail[:1000],
            created_at=time.time(),
        )
    )
    return True


def open_alerts(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.id)
    ).mappings()
    return [dict(r) for r in rows]
