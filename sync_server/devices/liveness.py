"""Honest liveness of devices and facilities for the office dashboard.

A device's state comes from what the server itself observed, not from what the device claims:

- ``blocked``: the server refuses its journal (quarantine) or the device is revoked;
- ``online``: heard from (status or events) within ``stale_after_s`` and its last status did
  not say goodbye;
- ``stale``: heard from within ``offline_after_s``, but not recently or it said goodbye
  (its agent stopped, or the broker published its last will);
- ``offline``: never heard from, or silent for longer than ``offline_after_s``.

A facility takes the worst state of its devices (blocked > offline > stale > online).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from sync_server.config import OfficeConfig
from sync_server.store.alerts import raise_alert, resolve_alerts
from sync_server.store.db import alerts, devices, facilities

STATES = ("online", "stale", "offline", "blocked")
_RANK = {"online": 0, "stale": 1, "offline": 2, "blocked": 3}


@dataclass(frozen=True)
class DeviceLiveness:
    dev_id: str
    facility_code: str
    state: str
    last_heard: float | None
    silent_s: float | None
    head_seq: int
    backlog: int | None
    oldest_unsynced_age_s: float | None
    blocked_code: str | None
    revoked: bool


@dataclass(frozen=True)
class FacilityLiveness:
    code: str
    name: str
    commune: str
    district: str
    province: str
    latitude: float | None
    longitude: float | None
    state: str
    devices: tuple[DeviceLiveness, ...]

    @property
    def backlog(self) -> int:
        return sum(d.backlog or 0 for d in self.devices)

    @property
    def oldest_unsynced_age_s(self) -> float | None:
        ages = [d.oldest_unsynced_age_s for d in self.devices if d.oldest_unsynced_age_s]
        return max(ages) if ages else None

    @property
    def last_heard(self) -> float | None:
        heard = [d.last_heard for d in self.devices if d.last_heard is not None]
        return max(heard) if heard else None


def device_state(row: Any, office: OfficeConfig, now: float) -> DeviceLiveness:
    status: dict[str, Any] = row["status"] or {}
    last = row["last_heard"]
    silent = None if last is None else max(0.0, now - last)
    if row["revoked_at"] is not None or row["blocked_code"]:
        state = "blocked"
    elif silent is None or silent > office.offline_after_s:
        state = "offline"
    elif silent > office.stale_after_s or status.get("online") is False:
        state = "stale"
    else:
        state = "online"
    backlog = status.get("backlog")
    age = status.get("oldest_unsynced_age_s")
    return DeviceLiveness(
        dev_id=row["dev_id"],
        facility_code=row["facility_code"],
        state=state,
        last_heard=last,
        silent_s=silent,
        head_seq=int(row["head_seq"] or 0),
        backlog=int(backlog) if isinstance(backlog, int) else None,
        oldest_unsynced_age_s=float(age) if isinstance(age, int | float) else None,
        blocked_code=row["blocked_code"] or ("revoked" if row["revoked_at"] else None),
        revoked=row["revoked_at"] is not None,
    )


def facility_states(
    conn: Connection, office: OfficeConfig, now: float | None = None
) -> list[FacilityLiveness]:
    now = time.time() if now is None else now
    devs: dict[str, list[DeviceLiveness]] = {}
    for row in conn.execute(select(devices).order_by(devices.c.dev_id)).mappings():
        d = device_state(row, office, now)
        devs.setdefault(d.facility_code, []).append(d)
    out = []
    for f in conn.execute(select(facilities).order_by(facilities.c.name)).mappings():
        mine = tuple(devs.get(f["code"], []))
        state = max((d.state for d in mine), key=_RANK.__getitem__, default="offline")
        out.append(
            FacilityLiveness(
                code=f["code"],
                name=f["name"],
                commune=f["commune"],
                district=f["district"],
                province=f["province"],
                latitude=f["latitude"],
                longitude=f["longitude"],
                state=state,
                devices=mine,
            )
        )
    return out


def sweep_silent(conn: Connection, office: OfficeConfig, now: float | None = None) -> int:
    """Raise a ``silent`` alert for each device quiet past ``offline_after_s`` (once), and
    resolve it when the device is heard from again. Returns how many alerts were raised."""
    now = time.time() if now is None else now
    raised = 0
    # Only devices with an open silent alert have one to resolve: not an UPDATE per device per
    # minute under the write lock, which held ingest up (issue 17).
    open_silent = set(
        conn.execute(
            select(alerts.c.dev_id).where(alerts.c.kind == "silent", alerts.c.resolved_at.is_(None))
        ).scalars()
    )
    for row in conn.execute(select(devices)).mappings():
        d = device_state(row, office, now)
        if row["revoked_at"] is not None:
            continue
        if d.silent_s is not None and d.silent_s > office.offline_after_s:
            hours = d.silent_s / 3600
            raised += raise_alert(
                conn, d.dev_id, d.facility_code, "silent", f"not heard from for {hours:.0f} h"
            )
        elif d.silent_s is not None and d.dev_id in open_silent:
            resolve_alerts(conn, d.dev_id, "silent", by="system")
    return raised
