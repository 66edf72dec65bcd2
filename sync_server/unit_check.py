"""Is a scanned unit code genuine? Checked against the devices' label keys, before or after the
batch has synced, and against the serial ranges the device says it printed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from sync_server.db import batches, devices, events, facilities
from trace_protocol import envelope as ev
from trace_protocol.unit_codes import decode_label_key, verify_unit_mac

GENUINE, FORGED, UNVERIFIABLE = "genuine", "forged", "unverifiable"
NEVER_PRINTED = "never_printed"  # genuine signature, but a serial the device never printed


@dataclass(frozen=True)
class UnitVerdict:
    state: str  # genuine, forged or unverifiable (no label key for the lot's facility)
    device: str | None
    facility_name: str | None
    production_date: date | None  # from the lot code: known before the batch syncs
    printed: bool | None  # None while the batch has not synced

    @property
    def outcome(self) -> str:
        """What the consumer is told: a state above, or never printed (logged with the scan)."""
        return NEVER_PRINTED if self.state == GENUINE and self.printed is False else self.state


def check_unit(
    conn: Connection, lot: str, serial: str, gtin: str | None, mac: str | None
) -> UnitVerdict:
    facility_code = lot.split("-", 1)[0]
    fac = conn.execute(select(facilities.c.name).where(facilities.c.code == facility_code)).first()
    keys = conn.execute(
        select(devices.c.dev_id, devices.c.label_key).where(
            devices.c.facility_code == facility_code, devices.c.label_key.is_not(None)
        )
    ).all()
    made = _lot_date(lot)
    if not keys:
        return UnitVerdict(UNVERIFIABLE, None, fac[0] if fac else None, made, None)
    device = None
    if mac:
        for dev, key in keys:
            if verify_unit_mac(decode_label_key(key), lot, serial, gtin, mac):
                device = dev
                break
    if device is None:
        return UnitVerdict(FORGED, None, fac[0] if fac else None, made, None)
    return UnitVerdict(
        GENUINE, device, fac[0] if fac else None, made, _printed(conn, device, lot, serial)
    )


def _lot_date(lot: str) -> date | None:
    """Lots are ``{PREFIX}-{PRODUCT}-{YYMMDD}-{NN}`` (trace_protocol.links.build_lot)."""
    parts = lot.split("-")
    if len(parts) < 3 or len(parts[-2]) != 6 or not parts[-2].isdigit():
        return None
    try:
        return date(2000 + int(parts[-2][:2]), int(parts[-2][2:4]), int(parts[-2][4:]))
    except ValueError:
        return None


def _printed(conn: Connection, dev: str, lot: str, serial: str) -> bool | None:
    batch = conn.execute(
        select(batches.c.batch_id).where(batches.c.dev_id == dev, batches.c.lot == lot)
    ).first()
    if batch is None or not serial.isdigit():
        return None
    number = int(serial)
    runs = conn.execute(
        select(events.c.body).where(
            events.c.dev_id == dev,
            events.c.batch_id == batch[0],
            events.c.type == ev.LABELS_PRINTED,
        )
    ).all()
    return any(
        isinstance(b.get("serial_from"), int)
        and isinstance(b.get("serial_to"), int)
        and b["serial_from"] <= number <= b["serial_to"]
        for (b,) in runs
    )
