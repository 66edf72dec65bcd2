"""Unblock a blocked device (issue 16): the evidence the office sees, and its decisions.

docs/protocol.md, "Unblocking", is the contract. A device is blocked when its own key signed an
event the server refused (sync_server/ingest/commit.py). Two decisions lead out:

- ``accept`` (``bad_body``, ``wrong_facility``, ``lot_taken``, ``unknown_batch``: a device bug or
  a misconfiguration; the event is the device's own): the refused event is committed as
  recorded, the block is cleared, and the device hears an ack without error, which clears its
  own block. A ``batch.opened`` refused for its lot or facility is kept for the office without a
  public lot; any other refused event is kept raw, unprojected, like an unknown event type.
- ``continue`` (``fork``, ``chain_break``, ``wrong_device``: typically a Pi restored from an old
  backup): the old id stays blocked and read-only, with its events; a new id
  ``<dev>-r<N>`` of the same facility is registered, linked both ways
  (``devices.replaces``/``replaced_by``), with a one-time enrolment token that only the old
  device's key can use. The token goes to the device in a ``continue`` command on its ``cmd``
  topic; the agent enrols under the new id and re-records its journal
  (edge_agent/continuation.py).

Each decision is a ``device_decisions`` row and an audit row, in the same transaction.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from sync_server.accounts.audit import record
from sync_server.devices.enrolment import issue_token
from sync_server.ingest.commit import insert_events, signed_by
from sync_server.ingest.projection import body_problem, project
from sync_server.store.alerts import resolve_alerts
from sync_server.store.db import batches, devices, events, quarantine
from sync_server.store.office_tables import device_decisions
from trace_protocol import envelope as ev
from trace_protocol.envelope import EnvelopeError, Event, parse_event
from trace_protocol.messages import CONTINUE as CONTINUE_CMD
from trace_protocol.messages import Ack, Command
from trace_protocol.signing import load_public_key

ACCEPT = "accept"
CONTINUE = "continue"
ROTATE = "rotate"
RESEND = "resend"  # a pending continue told again: not a decision, an audit row
# The decisions each cause allows (docs/protocol.md, "Unblocking").
DECISIONS: dict[str, tuple[str, ...]] = {
    "fork": (CONTINUE,),
    "chain_break": (CONTINUE,),
    "wrong_device": (CONTINUE,),
    "bad_body": (ACCEPT,),
    "wrong_facility": (ACCEPT,),
    "lot_taken": (ACCEPT,),
    "unknown_batch": (ACCEPT,),
}
_UNLISTED = ("lot_taken", "wrong_facility")  # a batch.opened kept without a public lot
MAX_REASON = 500
_SUFFIX = re.compile(r"-r\d+\Z")


class UnblockError(Exception):
    """A decision the server refuses; ``code`` is a stable string id (``unblock_err_<code>``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


@dataclass(frozen=True)
class Held:
    """One quarantined event beside what the server holds at its seq."""

    seq: int
    code: str
    detail: str
    received_at: float
    event: dict[str, Any] | None
    committed: dict[str, Any] | None  # the server's event at that seq, if any

    @property
    def same_prev(self) -> bool:
        return bool(self.event and self.committed and self.event["prev"] == self.committed["prev"])


@dataclass(frozen=True)
class Decided:
    decision: str
    dev: str
    ack: Ack | None = None  # accept: what to publish on the device's ack topic
    new_dev: str | None = None  # continue: the new identity
    token: str | None = None  # continue: its one-time enrolment token (shown once, never stored)

    def command(self) -> Command | None:
        """continue: the command for the old device's ``cmd`` topic."""
        if self.new_dev is None or self.token is None:
            return None
        return Command(CONTINUE_CMD, {"dev": self.new_dev, "token": self.token})


def evidence(conn: Connection, dev: str, limit: int = 20) -> list[Held]:
    """The device's quarantined events, newest first, each with the committed event at its seq."""
    rows = conn.execute(
        select(quarantine)
        .where(quarantine.c.dev_id == dev)
        .order_by(quarantine.c.id.desc())
        .limit(limit)
    ).mappings()
    held = [dict(r) for r in rows]
    seqs = sorted({int(r["seq"]) for r in held})
    committed = {
        int(r["seq"]): dict(r)
        for r in conn.execute(
            select(
                events.c.seq,
                events.c.id,
                events.c.type,
                events.c.at,
                events.c.body,
                events.c.prev,
                events.c.hash,
            ).where(events.c.dev_id == dev, events.c.seq.in_(seqs))
        ).mappings()
    }
    return [
        Held(
            seq=int(r["seq"]),
            code=str(r["code"]),
            detail=str(r["detail"]),
            received_at=float(r["received_at"]),
            event=r["event"] if isinstance(r["event"], dict) else None,
            committed=committed.get(int(r["seq"])),
        )
        for r in held
    ]


def decisions_of(conn: Connection, dev: str) -> list[dict[str, Any]]:
    """What the office decided about this device, or about the device it continues, newest first."""
    query = (
        select(device_decisions)
        .where((device_decisions.c.dev_id == dev) | (device_decisions.c.new_dev_id == dev))
        .order_by(device_decisions.c.id.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def checked_reason(reason: str) -> str:
    """A decision's reason, stripped; :class:`UnblockError` when missing or too long."""
    reason = reason.strip()
    if not reason:
        raise UnblockError("reason_missing")
    if len(reason) > MAX_REASON:
        raise UnblockError("reason_long")
    return reason


def locked_device(conn: Connection, dev: str) -> RowMapping:
    """The device's row, locked until the caller's transaction ends (PostgreSQL: two officers
    deciding at once take turns); :class:`UnblockError` ``unknown`` when there is none."""
    device = (
        conn.execute(select(devices).where(devices.c.dev_id == dev).with_for_update())
        .mappings()
        .first()
    )
    if device is None:
        raise UnblockError("unknown")
    return device


def decide(
    conn: Connection, dev: str, decision: str, who: str, reason: str, *, ttl_hours: float = 72.0
) -> Decided:
    """Take ``decision`` about blocked ``dev`` in the caller's transaction (with its audit row)."""
    reason = checked_reason(reason)
    device = locked_device(conn, dev)
    cause = device["blocked_code"]
    if not cause or device["revoked_at"] is not None:
        raise UnblockError("not_blocked")
    if decision not in DECISIONS.get(cause, ()):
        raise UnblockError("not_allowed", f"{decision} is not a decision for {cause}")
    done = _accept(conn, device) if decision == ACCEPT else _continue(conn, device, ttl_hours)
    conn.execute(
        insert(device_decisions).values(
            dev_id=dev,
            at=time.time(),
            username=who,
            cause=cause,
            blocked_seq=device["blocked_seq"],
            decision=decision,
            reason=reason,
            new_dev_id=done.new_dev,
        )
    )
    record(
        conn,
        who,
        f"device.unblock.{decision}",
        dev,
        facility=device["facility_code"],
        before={"blocked": cause, "seq": device["blocked_seq"], "head": device["head_seq"]},
        after={"new_device": done.new_dev}
        if done.new_dev
        else {"head": done.ack.upto if done.ack else None},
        detail=reason,
    )
    resolve_alerts(conn, dev, cause, who)
    return done


def _accept(conn: Connection, device: RowMapping) -> Decided:
    """Commit the refused event as recorded and clear the block."""
    dev, head = str(device["dev_id"]), int(device["head_seq"])
    row = conn.execute(
        select(quarantine.c.event)
        .where(quarantine.c.dev_id == dev, quarantine.c.seq == device["blocked_seq"])
        .order_by(quarantine.c.id.desc())
        .limit(1)
    ).first()
    try:
        e = parse_event(row[0]) if row is not None and row[0] is not None else None
    except EnvelopeError:
        e = None
    key = load_public_key(str(device["public_key"]))
    if e is None or e.seq != head + 1 or e.prev != device["head_hash"] or not signed_by(e, key):
        raise UnblockError("evidence", "the quarantined event does not continue the chain")
    insert_events(conn, [e])
    if e.type == ev.BATCH_OPENED:
        if device["blocked_code"] in _UNLISTED and _projectable(e):
            project(conn, e, public=False)
        else:
            _keep_batch(conn, e, str(device["facility_code"]))
    conn.execute(
        update(devices)
        .where(devices.c.dev_id == dev)
        .values(
            head_seq=e.seq,
            head_hash=e.hash,
            blocked_code=None,
            blocked_seq=None,
            blocked_detail=None,
        )
    )
    return Decided(ACCEPT, dev, ack=Ack(upto=e.seq))


def _projectable(e: Event) -> bool:
    return body_problem(e) is None


def _keep_batch(conn: Connection, e: Event, facility: str) -> None:
    """An accepted ``batch.opened`` the projection cannot read (``bad_body``): a batch row from
    what its body has, without a public lot, so that the device's later events on that batch
    bind instead of blocking again as ``unknown_batch``. Nothing when the body names no batch
    id, or the device already has that batch."""
    b = e.body
    batch = b.get("batch")
    if not isinstance(batch, str) or not batch or len(batch) > 36:
        return
    held = conn.execute(
        select(batches.c.batch_id).where(batches.c.dev_id == e.dev, batches.c.batch_id == batch)
    ).first()
    if held is not None:
        return
    raw, place = b.get("product"), b.get("facility")
    product: dict[str, Any] = raw if isinstance(raw, dict) else {}
    gtin, code = product.get("gtin"), product.get("code")
    conn.execute(
        insert(batches).values(
            dev_id=e.dev,
            batch_id=batch,
            lot=_text(b.get("lot"), 20),
            public_lot=None,
            received_at=time.time(),
            gtin=gtin if isinstance(gtin, str) and len(gtin) <= 14 else None,
            facility_code=facility,
            product_code=_text(code, 16),
            product=product,
            facility=place if isinstance(place, dict) else {},
            production_date=_text(b.get("production_date"), 10),
            opened_at=e.at,
            status="open",
        )
    )


def _text(value: object, size: int) -> str:
    """A body value for a sized text column: a string that fits, else empty."""
    return value if isinstance(value, str) and len(value) <= size else ""


def _continue(conn: Connection, device: RowMapping, ttl_hours: float) -> Decided:
    """Register the new identity, link it to the old one, issue its token."""
    dev = str(device["dev_id"])
    if device["replaced_by"] is not None:
        raise UnblockError("already_continued", f"{dev} continues as {device['replaced_by']}")
    if device["public_key"] is None:
        raise UnblockError("evidence", "the device has no key")
    new = _next_id(conn, dev)
    now = time.time()
    conn.execute(
        insert(devices).values(
            dev_id=new,
            facility_code=device["facility_code"],
            registered_at=now,
            head_seq=0,
            name=device["name"],
            replaces=dev,
        )
    )
    conn.execute(update(devices).where(devices.c.dev_id == dev).values(replaced_by=new))
    token = issue_token(conn, new, str(device["facility_code"]), ttl_hours)
    return Decided(CONTINUE, dev, new_dev=new, token=token)


def pending_continuation(conn: Connection, dev: str) -> str | None:
    """The id ``dev`` continues as while that id has not enrolled yet (its command may be lost)."""
    new = conn.execute(select(devices.c.replaced_by).where(devices.c.dev_id == dev)).scalar()
    if new is None:
        return None
    row = conn.execute(
        select(devices.c.enrolled_at, devices.c.public_key, devices.c.revoked_at).where(
            devices.c.dev_id == new
        )
    ).first()
    if row is None or any(v is not None for v in row):
        return None
    return str(new)


def resend(conn: Connection, dev: str, who: str, *, ttl_hours: float = 72.0) -> Decided:
    """Tell a pending continuation again (the broker was down, the Pi was off): a new one-time
    token for the new id, the older one no longer usable, with an audit row
    (``device.unblock.resend``) in the caller's transaction. Not a new decision."""
    device = locked_device(conn, dev)
    new = pending_continuation(conn, dev)
    if new is None:
        raise UnblockError("not_pending")
    token = issue_token(conn, new, str(device["facility_code"]), ttl_hours)
    record(
        conn,
        who,
        "device.unblock.resend",
        dev,
        facility=device["facility_code"],
        after={"new_device": new, "token_valid_h": ttl_hours},
    )
    return Decided(RESEND, dev, new_dev=new, token=token)


def _next_id(conn: Connection, dev: str) -> str:
    """``kc-line-1`` → ``kc-line-1-r2`` (then ``-r3`` …): the first id nobody has used."""
    base = _SUFFIX.sub("", dev)
    n = 2
    while True:
        suffix = f"-r{n}"
        candidate = base[: 63 - len(suffix)] + suffix
        if (
            conn.execute(select(devices.c.dev_id).where(devices.c.dev_id == candidate)).first()
            is None
        ):
            return candidate
        n += 1
