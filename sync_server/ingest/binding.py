"""Bind each event to its device's registered facility, lot letter and batches (issue 12, #1).

A device's signature proves who wrote an event, not that what it says is the device's to say.
An authentic event is refused (quarantined like any other bad body, which blocks the device
until the office acts) when it:

- ``wrong_facility``: opens a batch whose body names a facility other than the one the device
  is registered for, or whose lot starts with another registered facility's code;
- ``lot_taken``: opens a lot that a batch already holds (another device's, or another of this
  device's batches), or whose lot letter is not this device's;
- ``unknown_batch``: names (``body.batch``) a batch that this device did not open (a shipment:
  a batch of another facility, or none its facility's lots could be);
- supply events (issue 15): a receipt's receiving lot must carry the facility's code and this
  device's lot letter (``wrong_facility``, ``lot_taken``) and be new (``lot_taken``); a use must
  name a receipt of the device's facility (``wrong_facility``) with that receipt's lot; a
  correction must name an earlier event of this device by its seq, id and type (``bad_body``).
  A receipt or batch another device of the facility has not sent yet is judged by its lot's
  prefix, so arrival order across devices never decides.

Checked in seq order over a verified run, before anything of it is committed; the batches that
the run itself opens count as opened.

A device that continues a blocked one (issue 16, docs/protocol.md "Unblocking") re-records the
old journal with ``body.continues = {dev, seq, id}``. An event whose original the server holds
(same id at that seq of the device it continues) is a *copy*: never checked again, its
projection rows move to the new device (sync_server/ingest/continued.py). The others were never
committed: they are checked as usual, except that the old device's lot letter is theirs too and
a lot another batch already holds does not block (the batch is kept without a public lot, with
a ``lot_taken`` alert, as migration 0002 did), so labels printed before the decision stay valid.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select

from sync_server.store.db import batches, devices, events, facilities
from sync_server.store.supply_tables import receipts, shipments
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.chain import Problem
from trace_protocol.envelope import Event
from trace_protocol.links import is_receipt_lot, lot_letter, lot_prefix, parse_lot

WRONG_FACILITY = "wrong_facility"
LOT_TAKEN = "lot_taken"
UNKNOWN_BATCH = "unknown_batch"
# sync_server.ingest.commit.BAD_BODY: a batch id opened twice cannot be projected
BAD_BODY = "bad_body"
BATCH_ID_MAX = 36  # batches.batch_id: a batch id no device opened may still not be longer
CONTINUES = "continues"  # body field of a re-recorded event (docs/protocol.md, "Unblocking")


class RunBinding:
    """The binding checks for one device's run of events, in order."""

    def __init__(self, conn: Connection, device: RowMapping) -> None:
        self._conn = conn
        self._dev = str(device["dev_id"])
        self._facility = str(device["facility_code"])
        self._lot_index: int | None = device["lot_index"]
        self._own: set[str] = set()  # batch ids of this device seen so far
        self._run_lots: set[str] = set()  # lots opened earlier in this run
        self._run_receipts: dict[str, str] = {}  # receipt id -> receiving lot, in this run
        self._run_shipments: set[str] = set()
        self._run_events: dict[int, tuple[str, str]] = {}  # seq -> (id, type), in this run
        self._continues: str | None = device["replaces"]
        self._old_lot_index: int | None = None
        if self._continues is not None:
            self._old_lot_index = conn.execute(
                select(devices.c.lot_index).where(devices.c.dev_id == self._continues)
            ).scalar()
        self._continuing = False  # the event being checked carries ``continues``
        self.copies: dict[int, int] = {}  # seq -> the old device's seq it copies
        self.unlisted: set[int] = set()  # batch.opened seqs kept without a public lot

    @property
    def old_device(self) -> str | None:
        """The device this one continues (``devices.replaces``), if any."""
        return self._continues

    def problem(self, e: Event) -> Problem | None:
        """Why ``e`` is not this device's to write, or None (then it counts as applied)."""
        self._continuing = CONTINUES in e.body
        if self._continuing:
            reason = self._continued(e)
            if reason is not None:
                return Problem(reason[0], e.seq, reason[1])
            if e.seq in self.copies:
                self._applied(e)
                return None
        if e.type == ev.BATCH_OPENED:
            reason = self._opened(e)
        elif e.type in se.SUPPLY_TYPES:
            reason = self._supply(e)
        else:
            reason = self._names_own_batch(e)
        if reason is not None:
            return Problem(reason[0], e.seq, reason[1])
        self._applied(e)
        return None

    def _applied(self, e: Event) -> None:
        b = e.body
        if e.type == ev.BATCH_OPENED:
            self._own.add(str(b["batch"]))
            self._run_lots.add(str(b["lot"]))
        elif e.type == se.INPUT_RECEIVED:
            self._run_receipts[str(b["receipt"])] = str(b["lot"])
        elif e.type == se.LOT_SHIPPED:
            self._run_shipments.add(str(b["shipment"]))
        self._run_events[e.seq] = (e.id, e.type)

    def _continued(self, e: Event) -> tuple[str, str] | None:
        """Check ``body.continues``; a copy of an event the server holds goes in ``copies``."""
        ref = e.body[CONTINUES]
        if (
            not isinstance(ref, dict)
            or not isinstance(ref.get("dev"), str)
            or not isinstance(ref.get("seq"), int)
            or isinstance(ref.get("seq"), bool)
            or not isinstance(ref.get("id"), str)
        ):
            return BAD_BODY, "continues must be {dev, seq, id}"
        if ref["dev"] != self._continues:
            return BAD_BODY, (
                f"continues names device {ref['dev'][:64]!r}, which this device does not continue"
            )
        original = self._conn.execute(
            select(events.c.id, events.c.type).where(
                events.c.dev_id == self._continues, events.c.seq == ref["seq"]
            )
        ).first()
        if original is not None and (str(original[0]), str(original[1])) == (ref["id"], e.type):
            self.copies[e.seq] = int(ref["seq"])
        return None

    def _own_letter(self, index: int) -> bool:
        """The device's lot letter, or the continued device's for a re-recorded event."""
        return index == self._lot_index or (self._continuing and index == self._old_lot_index)

    def _supply(self, e: Event) -> tuple[str, str] | None:
        b = e.body
        if e.type == se.INPUT_RECEIVED:
            return self._received(str(b["receipt"]), str(b["lot"]))
        if e.type == se.INPUT_ADDED:
            return self._names_own_batch(e) or self._uses(str(b["receipt"]), str(b["lot"]))
        if e.type == se.LOT_SHIPPED:
            return self._ships(e)
        if e.type == se.RECORD_CORRECTED:
            return self._corrects(e)
        return self._names_own_batch(e)  # batch.voided

    def _received(self, receipt: str, lot: str) -> tuple[str, str] | None:
        if lot_prefix(lot) != self._facility or not is_receipt_lot(lot):
            return WRONG_FACILITY, (
                f"receiving lot {lot!r} is not a {self._facility}-NL-… code of this facility"
            )
        parsed = parse_lot(lot)
        if parsed is not None and parsed.index is not None and not self._own_letter(parsed.index):
            mine = lot_letter(self._lot_index) if self._lot_index else "none"
            return LOT_TAKEN, (
                f"lot {lot!r} has lot letter {lot_letter(parsed.index)}; this device's is {mine}"
            )
        if (
            receipt in self._run_receipts
            or self._conn.execute(
                select(receipts.c.receipt_id).where(receipts.c.receipt_id == receipt)
            ).first()
        ):
            return BAD_BODY, f"receipt {receipt} was already received"
        taken = (
            lot in self._run_receipts.values()
            or self._conn.execute(select(receipts.c.lot).where(receipts.c.lot == lot)).first()
        )
        if taken and not self._continuing:  # continued: the projection skips the taken lot
            return LOT_TAKEN, f"receiving lot {lot!r} was already given to another receipt"
        return None

    def _uses(self, receipt: str, lot: str) -> tuple[str, str] | None:
        if receipt in self._run_receipts:
            known: tuple[str, str] | None = (self._facility, self._run_receipts[receipt])
        else:
            row = self._conn.execute(
                select(receipts.c.facility_code, receipts.c.lot).where(
                    receipts.c.receipt_id == receipt
                )
            ).first()
            known = None if row is None else (str(row[0]), str(row[1]))
        if known is None:  # received on another device of the facility, not here yet
            if lot_prefix(lot) != self._facility or not is_receipt_lot(lot):
                return (
                    WRONG_FACILITY,
                    f"input.added uses lot {lot!r}, not a receipt of this facility",
                )
            return None
        if known[0] != self._facility:
            return WRONG_FACILITY, f"receipt {receipt} is facility {known[0]}'s"
        if known[1] != lot:
            return BAD_BODY, f"receipt {receipt} has lot {known[1]!r}, not {lot!r}"
        return None

    def _ships(self, e: Event) -> tuple[str, str] | None:
        shipment, batch, lot = str(e.body["shipment"]), str(e.body["batch"]), str(e.body["lot"])
        if (
            shipment in self._run_shipments
            or self._conn.execute(
                select(shipments.c.shipment_id).where(shipments.c.shipment_id == shipment)
            ).first()
        ):
            return BAD_BODY, f"shipment {shipment} was already recorded"
        rows = self._conn.execute(
            select(batches.c.facility_code, batches.c.lot).where(batches.c.batch_id == batch)
        ).all()
        if self._is_own(batch) and not rows:  # opened earlier in this run
            return None
        if not rows:  # opened on another device of the facility, not here yet
            if lot_prefix(lot) != self._facility or len(batch) > BATCH_ID_MAX:
                return (
                    UNKNOWN_BATCH,
                    f"lot.shipped names batch {batch[:36]!r}, not of this facility",
                )
            return None
        if all(str(r[0]) != self._facility for r in rows):
            return UNKNOWN_BATCH, f"lot.shipped names batch {batch[:36]!r} of another facility"
        if all(str(r[1]) != lot for r in rows if str(r[0]) == self._facility):
            return BAD_BODY, f"batch {batch[:36]} does not have lot {lot!r}"
        return None

    def _corrects(self, e: Event) -> tuple[str, str] | None:
        target = e.body["corrects"]
        seq, kind = int(target["seq"]), str(target["type"])
        if seq >= e.seq:
            return BAD_BODY, f"record.corrected corrects seq {seq}, not an earlier event"
        found = self._run_events.get(seq)
        if found is None:
            row = self._conn.execute(
                select(events.c.id, events.c.type).where(
                    events.c.dev_id == self._dev, events.c.seq == seq
                )
            ).first()
            found = None if row is None else (str(row[0]), str(row[1]))
        if found != (str(target["id"]), kind):
            return (
                BAD_BODY,
                f"record.corrected: event {seq} of this device is not {kind} {target['id']}",
            )
        return None

    def _opened(self, e: Event) -> tuple[str, str] | None:
        lot, batch = str(e.body["lot"]), str(e.body["batch"])
        named = e.body.get("facility", {})
        code = named.get("code") if isinstance(named, dict) else named
        if code is not None and code != self._facility:
            return WRONG_FACILITY, (
                f"batch.opened names facility {str(code)[:16]!r};"
                f" the device is registered for {self._facility}"
            )
        other = self._other_facility_prefix(lot)
        if other is not None:
            return WRONG_FACILITY, (
                f"lot {lot!r} starts with facility {other}'s code;"
                f" the device is registered for {self._facility}"
            )
        parsed = parse_lot(lot)
        if parsed is not None and parsed.index is not None and not self._own_letter(parsed.index):
            mine = lot_letter(self._lot_index) if self._lot_index else "none"
            return LOT_TAKEN, (
                f"lot {lot!r} has lot letter {lot_letter(parsed.index)}; this device's is {mine}"
            )
        if self._is_own(batch):
            return BAD_BODY, f"batch {batch[:36]} was already opened by this device"
        holder = self._conn.execute(
            select(batches.c.dev_id).where(batches.c.lot == lot).limit(1)
        ).first()
        if (holder is not None or lot in self._run_lots) and self._continuing:
            self.unlisted.add(e.seq)  # its labels may be out there: keep it, alert the office
            return None
        if holder is not None or lot in self._run_lots:
            who = "this device" if holder is None or holder[0] == self._dev else holder[0]
            return LOT_TAKEN, f"lot {lot!r} was already opened by {who}"
        return None

    def _other_facility_prefix(self, lot: str) -> str | None:
        """Another registered facility whose code the lot starts with (``{code}-…``), unless
        the device's own facility code fits there too (codes may hold '-')."""
        heads = {lot[:i] for i, ch in enumerate(lot) if ch == "-"}
        if not heads or self._facility in heads:
            return None
        row = self._conn.execute(
            select(facilities.c.code).where(facilities.c.code.in_(sorted(heads))).limit(1)
        ).first()
        return None if row is None else str(row[0])

    def _names_own_batch(self, e: Event) -> tuple[str, str] | None:
        batch = e.body.get("batch")
        if batch is None or (isinstance(batch, str) and self._is_own(batch)):
            return None
        return UNKNOWN_BATCH, f"{e.type} names batch {str(batch)[:36]!r}, not opened by this device"

    def _is_own(self, batch: str) -> bool:
        if batch in self._own:
            return True
        found = self._conn.execute(
            select(batches.c.batch_id).where(
                batches.c.dev_id == self._dev, batches.c.batch_id == batch
            )
        ).first()
        if found is not None:
            self._own.add(batch)
        return found is not None
