"""Bind each event to its device's registered facility, lot letter and batches (issue 12, #1).

A device's signature proves who wrote an event, not that what it says is the device's to say.
An authentic event is refused (quarantined like any other bad body, which blocks the device
until the office acts) when it:

- ``wrong_facility``: opens a batch whose body names a facility other than the one the device
  is registered for, or whose lot starts with another registered facility's code;
- ``lot_taken``: opens a lot that a batch already holds (another device's, or another of this
  device's batches), or whose lot letter is not this device's;
- ``unknown_batch``: names (``body.batch``) a batch that this device did not open.

Checked in seq order over a verified run, before anything of it is committed; the batches that
the run itself opens count as opened.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select

from sync_server.store.db import batches, facilities
from trace_protocol import envelope as ev
from trace_protocol.chain import Problem
from trace_protocol.envelope import Event
from trace_protocol.links import lot_letter, parse_lot

WRONG_FACILITY = "wrong_facility"
LOT_TAKEN = "lot_taken"
UNKNOWN_BATCH = "unknown_batch"
# sync_server.ingest.commit.BAD_BODY: a batch id opened twice cannot be projected
BAD_BODY = "bad_body"


class RunBinding:
    """The binding checks for one device's run of events, in order."""

    def __init__(self, conn: Connection, device: RowMapping) -> None:
        self._conn = conn
        self._dev = str(device["dev_id"])
        self._facility = str(device["facility_code"])
        self._lot_index: int | None = device["lot_index"]
        self._own: set[str] = set()  # batch ids of this device seen so far
        self._run_lots: set[str] = set()  # lots opened earlier in this run

    def problem(self, e: Event) -> Problem | None:
        """Why ``e`` is not this device's to write, or None (then it counts as applied)."""
        reason = self._opened(e) if e.type == ev.BATCH_OPENED else self._names_own_batch(e)
        if reason is not None:
            return Problem(reason[0], e.seq, reason[1])
        if e.type == ev.BATCH_OPENED:
            self._own.add(str(e.body["batch"]))
            self._run_lots.add(str(e.body["lot"]))
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
        if parsed is not None and parsed.index is not None and parsed.index != self._lot_index:
            mine = lot_letter(self._lot_index) if self._lot_index else "none"
            return LOT_TAKEN, (
                f"lot {lot!r} has lot letter {lot_letter(parsed.index)}; this device's is {mine}"
            )
        if self._is_own(batch):
            return BAD_BODY, f"batch {batch[:36]} was already opened by this device"
        holder = self._conn.execute(
            select(batches.c.dev_id).where(batches.c.lot == lot).limit(1)
        ).first()
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
