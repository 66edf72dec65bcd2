"""Traffic on a device's topics that is not the device's: counted and sampled, alerted once.

Issue 12, findings 2, 3, 7 and 9. With a leaked broker password anyone can publish on a
device's ``events`` and ``status`` topics, but not sign with its key. What does not verify under
the device's key (or does not even parse) is therefore not the device's: it must not block the
device, must not reach the device as an error ack, and must not fill the database or the log.
Each device has one row per kind in ``device_rejects``: a counter, the latest code and detail
and the last few samples. The office gets one ``forged_traffic`` alert per device, at most once
an hour even after someone resolves it; the log gets a line at the 1st, 10th, 100th … message.

Callers hold the device's row lock (ingest locks it for every chunk), so two workers never
insert the same (device, kind) row at once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy import Connection, insert, select, update

from sync_server.store.alerts import raise_alert
from sync_server.store.db import alerts, device_rejects

log = logging.getLogger(__name__)

FORGED = "forged"  # events that do not verify under the device's key
MALFORMED = "malformed"  # event payloads that do not parse
STATUS = "status"  # status messages that do not parse or verify
KINDS = (FORGED, MALFORMED, STATUS)
ALERT_KIND = "forged_traffic"
ALERT_EVERY_S = 3600.0
MAX_SAMPLES = 3
MAX_SAMPLE_CHARS = 2000
MAX_DETAIL_CHARS = 300
_ALERTING = (FORGED, MALFORMED)  # a bad status is counted, never alerted (see docs/protocol.md)


def _text(sample: Any) -> str:
    if isinstance(sample, bytes):
        text = sample[: MAX_SAMPLE_CHARS * 4].decode("utf-8", errors="replace")
    elif isinstance(sample, str):
        text = sample
    else:
        text = json.dumps(sample, ensure_ascii=False, default=str)
    return text[:MAX_SAMPLE_CHARS]


def _log_now(count: int) -> bool:
    """1, 10, 100, 1000 …: a flood leaves a handful of lines, not one per message."""
    while count % 10 == 0:
        count //= 10
    return count == 1


def record_reject(
    conn: Connection,
    dev: str,
    facility: str | None,
    kind: str,
    code: str,
    detail: str,
    sample: Any,
    now: float | None = None,
) -> int:
    """Count one rejected message of ``kind`` from ``dev``'s topics; returns the new count."""
    now = time.time() if now is None else now
    detail = detail[:MAX_DETAIL_CHARS]
    entry = {"at": now, "code": code, "detail": detail, "payload": _text(sample)}
    row = (
        conn.execute(
            select(device_rejects.c.count, device_rejects.c.samples).where(
                device_rejects.c.dev_id == dev, device_rejects.c.kind == kind
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        count = 1
        conn.execute(
            insert(device_rejects).values(
                dev_id=dev,
                kind=kind,
                count=count,
                first_at=now,
                last_at=now,
                last_code=code,
                last_detail=detail,
                samples=[entry],
            )
        )
    else:
        count = int(row["count"]) + 1
        samples = [entry, *list(row["samples"] or [])][:MAX_SAMPLES]
        conn.execute(
            update(device_rejects)
            .where(device_rejects.c.dev_id == dev, device_rejects.c.kind == kind)
            .values(count=count, last_at=now, last_code=code, last_detail=detail, samples=samples)
        )
    if _log_now(count):
        log.warning(
            "%s: %d %s message(s) refused so far; latest %s: %s", dev, count, kind, code, detail
        )
    if kind in _ALERTING:
        _alert(conn, dev, facility, kind, count, f"{code}: {detail}", now)
    return count


def _alert(
    conn: Connection, dev: str, facility: str | None, kind: str, count: int, latest: str, now: float
) -> None:
    recent = conn.execute(
        select(alerts.c.id).where(
            alerts.c.dev_id == dev,
            alerts.c.kind == ALERT_KIND,
            alerts.c.created_at > now - ALERT_EVERY_S,
        )
    ).first()
    if recent is not None:
        return
    raise_alert(
        conn,
        dev,
        facility,
        ALERT_KIND,
        "forged traffic on this device's topic: its broker password may have leaked "
        "(or its key or journal was replaced or damaged). "
        f"{count} {kind} message(s) so far; latest {latest}",
    )


def rejects_of(conn: Connection, dev: str) -> list[dict[str, Any]]:
    """The device's counters, for the office's device page."""
    query = select(device_rejects).where(device_rejects.c.dev_id == dev)
    return [dict(r) for r in conn.execute(query.order_by(device_rejects.c.kind)).mappings()]


def reject_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """``{dev: {kind: count}}`` for every device with rejected traffic."""
    out: dict[str, dict[str, int]] = {}
    query = select(device_rejects.c.dev_id, device_rejects.c.kind, device_rejects.c.count)
    for dev, kind, count in conn.execute(query):
        out.setdefault(dev, {})[kind] = int(count)
    return out
