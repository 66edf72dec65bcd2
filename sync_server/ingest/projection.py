"""Server-side projection: the batches table, derived from committed events only, and the
supply tables through sync_server/ingest/supply_projection.py."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select, update

from sync_server.ingest.supply_projection import project_supply
from sync_server.store.alerts import raise_alert
from sync_server.store.blobs import SHA256_RE
from sync_server.store.db import batches, blob_refs, device_commands, devices, events
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event

_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    ev.BATCH_OPENED: {"batch": str, "lot": str, "product": dict, "production_date": str},
    ev.STEP_RECORDED: {"batch": str, "step": str, "name": str, "values": dict},
    ev.BATCH_CLOSED: {"batch": str, "quantity": (int, float), "unit": str},
    ev.LABELS_PRINTED: {"batch": str, "copies": int},
    ev.SNAPSHOT_TAKEN: {"sha256": str, "thumb_sha256": str, "camera": str, "purpose": str},
}
# snapshot.taken's purpose for a photo the server asked for (docs/protocol.md, ``cmd``).
COMMAND_PURPOSE = "command"
_BLOB_KINDS = (
    ("sha256", "full"),
    ("thumb_sha256", "thumb"),
    ("public_sha256", "public"),
    ("public_thumb_sha256", "public_thumb"),
)


def body_problem(e: Event) -> str | None:
    """Why this (authentic) event's body cannot be projected, or None when it can."""
    if e.type in se.SUPPLY_TYPES:
        return se.body_problem(e.type, e.body)
    for key, kind in _REQUIRED.get(e.type, {}).items():
        if not isinstance(e.body.get(key), kind) or isinstance(e.body.get(key), bool):
            return f"{e.type} body needs {key!r}"
    if e.type == ev.SNAPSHOT_TAKEN:
        for key, _ in _BLOB_KINDS:
            value = e.body.get(key)
            if value is not None and not (isinstance(value, str) and SHA256_RE.match(value)):
                return f"{e.type} body: {key} is not a sha256"
    return None


def project(conn: Connection, e: Event, *, public: bool = True) -> None:
    """Apply one committed event; called in the same transaction as its insert. ``public``
    False keeps an opened batch for the office without a public lot (a lot another batch holds,
    let through by an office decision or a continued chain: docs/protocol.md, "Unblocking")."""
    b = e.body
    if e.type == ev.BATCH_OPENED:
        product = b.get("product", {})
        # The registry, not the body, says whose batch it is (sync_server/ingest/binding.py has
        # already
        # refused a body that names another facility or a lot that is taken).
        registered = conn.execute(
            select(devices.c.facility_code).where(devices.c.dev_id == e.dev)
        ).scalar_one()
        conn.execute(
            batches.insert().values(
                dev_id=e.dev,
                batch_id=str(b["batch"]),
                lot=str(b["lot"]),
                public_lot=str(b["lot"]) if public else None,
                received_at=time.time(),
                gtin=product.get("gtin"),
                facility_code=registered,
                product_code=str(product.get("code", "")),
                product=product,
                facility=b.get("facility", {}),
                production_date=str(b.get("production_date", "")),
                opened_at=e.at,
                status="open",
            )
        )
    elif e.type == ev.SNAPSHOT_TAKEN:
        _snapshot_taken(conn, e)
    elif e.type == ev.BATCH_CLOSED:
        conn.execute(
            update(batches)
            .where(batches.c.dev_id == e.dev, batches.c.batch_id == str(b["batch"]))
            .values(
                status="closed",
                closed_at=e.at,
                quantity=b.get("quantity"),
                unit=b.get("unit"),
                expiry_date=b.get("expiry_date"),
            )
        )
    elif e.type in se.SUPPLY_TYPES:
        project_supply(conn, e)
        _flag_override(conn, e)


# Alert kinds for a use of more than a receipt had left, and a shipment of more than a lot made,
# that the worker confirmed on the touchscreen (issue 15: never block a worker for good, but tell
# the office). One open alert per device and lot.
OVERRIDE_KINDS = {se.INPUT_ADDED: "stock_override", se.LOT_SHIPPED: "ship_override"}


def _flag_override(conn: Connection, e: Event) -> None:
    b = e.body
    target = e.type
    if e.type == se.RECORD_CORRECTED and isinstance(b.get("corrects"), dict):
        target = str(b["corrects"].get("type", ""))  # a correction past the stock left
        if target == se.INPUT_RECEIVED:
            target = se.INPUT_ADDED  # less received than was already used
    kind = OVERRIDE_KINDS.get(target)
    if kind is None or b.get("override") is not True:
        return
    lot = str(b.get("lot", "") or _corrected_lot(conn, e))
    facility = conn.execute(
        select(devices.c.facility_code).where(devices.c.dev_id == e.dev)
    ).scalar()
    if e.type == se.RECORD_CORRECTED:
        what = f"a correction of event #{b['corrects'].get('seq')} took lot {lot}"
    else:
        verb = "used from receipt" if e.type == se.INPUT_ADDED else "shipped from lot"
        what = f"{b.get('quantity')} {b.get('unit')} {verb} {lot}"
    raise_alert(
        conn,
        e.dev,
        facility,
        kind,
        f"event #{e.seq}: {what} past what was left; the worker confirmed it on the touchscreen",
        subject=lot,
    )


def _corrected_lot(conn: Connection, e: Event) -> str:
    """The lot a correction's target event names (its body's ``lot``), or ""."""
    seq = e.body["corrects"].get("seq")
    body = conn.execute(
        select(events.c.body).where(events.c.dev_id == e.dev, events.c.seq == seq)
    ).scalar()
    lot = body.get("lot") if isinstance(body, dict) else None
    return lot if isinstance(lot, str) else ""


def _snapshot_taken(conn: Connection, e: Event) -> None:
    """Remember every photo file the event names, so acks can list the ones still missing; a
    photo taken on the office's command completes that command (sync_server/devices/commands.py)."""
    b = e.body
    if b["purpose"] == COMMAND_PURPOSE:
        _command_done(conn, e)
    batch = b.get("batch") if isinstance(b.get("batch"), str) else None
    named = [(b[key], kind) for key, kind in _BLOB_KINDS if isinstance(b.get(key), str)]
    if not named:
        return
    # One read and one insert per photo event, not one of each per file: statement building
    # was most of ingest's CPU under the load test (issue 17).
    known = {
        (r.sha256, r.kind)
        for r in conn.execute(
            select(blob_refs.c.sha256, blob_refs.c.kind).where(
                blob_refs.c.dev_id == e.dev, blob_refs.c.sha256.in_({sha for sha, _ in named})
            )
        )
    }
    rows = [
        {
            "sha256": sha,
            "dev_id": e.dev,
            "kind": kind,
            "seq": e.seq,
            "camera": str(b["camera"]),
            "purpose": str(b["purpose"]),
            "batch_id": batch,
        }
        for sha, kind in dict.fromkeys(named)
        if (sha, kind) not in known
    ]
    if rows:
        conn.execute(blob_refs.insert(), rows)


def _command_done(conn: Connection, e: Event) -> None:
    """The oldest sent, unanswered snapshot command for this camera is answered by this photo."""
    pending = conn.execute(
        select(device_commands.c.id, device_commands.c.params)
        .where(
            device_commands.c.dev_id == e.dev,
            device_commands.c.kind == "snapshot",
            device_commands.c.sent_at.is_not(None),
            device_commands.c.done_at.is_(None),
        )
        .order_by(device_commands.c.id)
    ).all()
    for cid, params in pending:
        if isinstance(params, dict) and params.get("camera") == e.body["camera"]:
            conn.execute(
                update(device_commands)
                .where(device_commands.c.id == cid)
                .values(
                    done_at=time.time(),
                    result={"seq": e.seq, "sha256": e.body["sha256"]},
                )
            )
            return
