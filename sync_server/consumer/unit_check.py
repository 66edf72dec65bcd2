"""Is a scanned unit code genuine? Checked against the devices' label keys, before or after the
batch has synced, and against the serial ranges the device says it printed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from sync_server.store.db import batches, devices, events, facilities
from trace_protocol import envelope as ev
from trace_protocol.links import lot_prefix, parse_lot
from trace_protocol.unit_codes import decode_label_key, verify_batch_mac, verify_unit_mac

GENUINE, FORGED, UNVERIFIABLE = "genuine", "forged", "unverifiable"
NEVER_PRINTED = "never_printed"  # genuine signature, but a serial the device never printed


@dataclass(frozen=True)
class UnitVerdict:
    state: str  # genuine, forged or unverifiable (no label key for the lot's facility)
    device: str | None
    facility_name: str | None
    production_date: date | None  # from the lot code: known before the batch syncs
    printed: bool | None  # None while the batch has not synced
    facility_code: str | None = None  # the batch's registered facility, else the lot's prefix

    @property
    def outcome(self) -> str:
        """What the consumer is told: a state above, or never printed (logged with the scan)."""
        return NEVER_PRINTED if self.state == GENUINE and self.printed is False else self.state


@dataclass(frozen=True)
class LotFacts:
    """What judging any unit code of a lot needs from the database: the same for all its
    serials, so a web worker may keep it a few seconds (sync_server/web/unit_page.py)."""

    lot: str
    synced: bool  # the lot's batch is on the server (its device alone may vouch for it)
    facility_code: str | None
    facility_name: str | None
    production_date: date | None
    keys: tuple[tuple[str, bytes], ...]  # (device, label key) that may have made its codes
    # Serial runs each candidate device recorded as printed for this lot (``labels.printed``);
    # a device without a synced batch of this lot is absent (printed: unknown).
    printed: dict[str, tuple[tuple[int, int], ...]]


def lot_facts(conn: Connection, lot: str) -> LotFacts:
    """Once the lot's batch has synced only its own device's key can make its codes genuine;
    before, any device of the facility the lot's prefix names (its lot letter, when the code
    has one)."""
    parsed = parse_lot(lot)
    holder = conn.execute(
        select(batches.c.dev_id, batches.c.facility_code).where(batches.c.public_lot == lot)
    ).first()
    candidates = select(devices.c.dev_id, devices.c.label_key).where(
        devices.c.label_key.is_not(None)
    )
    if holder is not None:
        facility_code = str(holder.facility_code)
        candidates = candidates.where(devices.c.dev_id == holder.dev_id)
    else:
        facility_code = lot_prefix(lot)
        candidates = candidates.where(devices.c.facility_code == facility_code)
        if parsed is not None and parsed.index is not None:
            candidates = candidates.where(devices.c.lot_index == parsed.index)
    fac = conn.execute(select(facilities.c.name).where(facilities.c.code == facility_code)).first()
    keys = tuple((str(dev), decode_label_key(key)) for dev, key in conn.execute(candidates))
    return LotFacts(
        lot=lot,
        synced=holder is not None,
        facility_code=facility_code,
        facility_name=fac[0] if fac else None,
        production_date=parsed.day if parsed else None,
        keys=keys,
        printed={dev: runs for dev, _ in keys if (runs := _runs(conn, dev, lot)) is not None},
    )


def judge_unit(facts: LotFacts, serial: str, gtin: str | None, mac: str | None) -> UnitVerdict:
    """The verdict on one code of the lot: no database, only the label keys' MACs."""
    name, made, code = facts.facility_name, facts.production_date, facts.facility_code
    if not facts.keys:
        return UnitVerdict(UNVERIFIABLE, None, name, made, None, code)
    device = None
    if mac:
        for dev, key in facts.keys:
            if verify_unit_mac(key, facts.lot, serial, gtin, mac):
                device = dev
                break
    if device is None:
        return UnitVerdict(FORGED, None, name, made, None, code)
    runs = facts.printed.get(device)
    printed = (
        None
        if runs is None or not serial.isdigit()
        else any(first <= int(serial) <= last for first, last in runs)
    )
    return UnitVerdict(GENUINE, device, name, made, printed, code)


def check_unit(
    conn: Connection, lot: str, serial: str, gtin: str | None, mac: str | None
) -> UnitVerdict:
    """The verdict on a unit code from what the database holds now."""
    return judge_unit(lot_facts(conn, lot), serial, gtin, mac)


def _runs(conn: Connection, dev: str, lot: str) -> tuple[tuple[int, int], ...] | None:
    """The serial runs ``dev`` printed for its batch of ``lot``; None when it has none synced."""
    batch = conn.execute(
        select(batches.c.batch_id).where(batches.c.dev_id == dev, batches.c.lot == lot)
    ).first()
    if batch is None:
        return None
    bodies = conn.execute(
        select(events.c.body).where(
            events.c.dev_id == dev,
            events.c.batch_id == batch[0],
            events.c.type == ev.LABELS_PRINTED,
        )
    ).scalars()
    return tuple(
        (b["serial_from"], b["serial_to"])
        for b in bodies
        if isinstance(b.get("serial_from"), int) and isinstance(b.get("serial_to"), int)
    )


def check_batch_code(
    conn: Connection, lot: str, gtin: str | None, mac: str | None
) -> UnitVerdict | None:
    """A signed batch label (issue 15) whose batch has not synced: genuine when a label key of
    a device of the lot's facility (its lot letter, when the code has one) made ``mac``; None
    otherwise (the page then stays "not found", as for an unsigned code)."""
    if not mac:
        return None
    parsed = parse_lot(lot)
    facility_code = lot_prefix(lot)
    candidates = select(devices.c.dev_id, devices.c.label_key).where(
        devices.c.label_key.is_not(None), devices.c.facility_code == facility_code
    )
    if parsed is not None and parsed.index is not None:
        candidates = candidates.where(devices.c.lot_index == parsed.index)
    for dev, key in conn.execute(candidates).all():
        if verify_batch_mac(decode_label_key(key), lot, gtin, mac):
            fac = conn.execute(
                select(facilities.c.name).where(facilities.c.code == facility_code)
            ).first()
            made = parsed.day if parsed else None
            return UnitVerdict(GENUINE, dev, fac[0] if fac else None, made, None, facility_code)
    return None
