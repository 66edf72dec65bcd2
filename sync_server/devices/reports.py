"""Office reports on the CLI (`ocop server devices`, `quarantine`): devices, quarantined events."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, select

from sync_server.config import OfficeConfig
from sync_server.devices.liveness import device_state
from sync_server.ingest.rejects import reject_counts
from sync_server.store.db import devices, quarantine


def device_rows(
    conn: Connection, office: OfficeConfig, now: float | None = None
) -> list[dict[str, Any]]:
    """Each device's honest liveness (``state``, computed by sync_server/devices/liveness.py
    exactly as
    the dashboard does), committed head, last heard, what it says it still holds."""
    now = time.time() if now is None else now
    rejected = reject_counts(conn)
    out = []
    for r in conn.execute(select(devices).order_by(devices.c.dev_id)).mappings():
        status = r["status"] or {}
        live = device_state(r, office, now)
        out.append(
            {
                "device": r["dev_id"],
                "facility": r["facility_code"],
                "state": live.state,
                "committed_head": r["head_seq"],
                "last_heard_s_ago": None if live.silent_s is None else round(live.silent_s, 1),
                "device_head": status.get("head"),
                "backlog": status.get("backlog"),
                "oldest_unsynced_age_s": status.get("oldest_unsynced_age_s"),
                "clock": status.get("clock"),
                "blocked": None
                if not r["blocked_code"]
                else {
                    "code": r["blocked_code"],
                    "seq": r["blocked_seq"],
                    "detail": r["blocked_detail"],
                },
                # Messages on its topics that were not its own (sync_server/ingest/rejects.py).
                "rejected": rejected.get(r["dev_id"], {}),
            }
        )
    return out


def quarantine_rows(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(quarantine).order_by(quarantine.c.id)).mappings()
    return [
        {
            "device": r["dev_id"],
            "seq": r["seq"],
            "code": r["code"],
            "detail": r["detail"],
            "received_at": r["received_at"],
            "event": r["event"],
        }
        for r in rows
    ]
