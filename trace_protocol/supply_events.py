"""The journal events of one step back and one step forward (issue 15), and what their bodies
must hold. Both sides use :func:`body_problem`: the edge before it appends, the server before it
projects (an authentic event whose body fails is committed and shown raw, never projected).

- ``input.received``: a raw-material receipt with its own receiving lot code;
- ``input.added``: part of a receipt used in a batch;
- ``lot.shipped``: part of a finished lot sent to a customer;
- ``record.corrected``: new values for fields of an earlier event of the same device, with a
  reason (the original stays in the journal);
- ``batch.voided``: a batch opened by mistake; nothing more may be recorded on it.

The fields of each body are in docs/protocol.md ("Supply events"). Every body may carry
``by`` (the signed-in worker, issue 12).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from trace_protocol import envelope as ev

INPUT_RECEIVED = "input.received"
INPUT_ADDED = ev.INPUT_ADDED
LOT_SHIPPED = "lot.shipped"
RECORD_CORRECTED = ev.RECORD_CORRECTED
BATCH_VOIDED = "batch.voided"
SUPPLY_TYPES = (INPUT_RECEIVED, INPUT_ADDED, LOT_SHIPPED, RECORD_CORRECTED, BATCH_VOIDED)

# What a correction may change, per corrected event type (anything else is refused).
CORRECTABLE: dict[str, tuple[str, ...]] = {
    INPUT_RECEIVED: ("quantity", "supplier_lot", "received_on"),
    INPUT_ADDED: ("quantity",),
    LOT_SHIPPED: ("quantity", "shipped_on", "note", "serials"),
    ev.STEP_RECORDED: ("values", "note"),
    ev.BATCH_CLOSED: ("quantity", "expiry_date"),
}
MAX_REASON = 300
MAX_NOTE = 500
MAX_SUPPLIER_LOT = 40
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_SHA = re.compile(r"^[0-9a-f]{64}\Z")


def _is_text(v: Any, max_len: int, *, empty: bool = False) -> bool:
    return isinstance(v, str) and len(v) <= max_len and (empty or bool(v.strip()))


def _is_quantity(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1e12


def _is_day(v: Any) -> bool:
    try:
        return isinstance(v, str) and date.fromisoformat(v).isoformat() == v
    except ValueError:
        return False


def _is_uuid(v: Any) -> bool:
    return isinstance(v, str) and bool(_UUID.match(v))


def _snapshot(v: Any, keys: tuple[str, ...]) -> bool:
    return isinstance(v, dict) and all(_is_text(v.get(k), 200) for k in keys)


def _serials(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in v)
        and v[0] <= v[1]
    )


def _received(b: dict[str, Any]) -> str | None:
    if not _is_uuid(b.get("receipt")):
        return "receipt must be a uuid"
    if not _is_text(b.get("lot"), 20):
        return "lot must be a lot code"
    if not _snapshot(b.get("supplier"), ("id", "name", "kind")):
        return "supplier must name id, name and kind"
    if not _snapshot(b.get("material"), ("code", "name", "unit")):
        return "material must name code, name and unit"
    if not _is_text(b.get("supplier_lot", ""), MAX_SUPPLIER_LOT, empty=True):
        return f"supplier_lot is at most {MAX_SUPPLIER_LOT} characters"
    source = b.get("source")
    if source is not None and not (
        isinstance(source, dict) and all(_is_text(v, 500) for v in source.values())
    ):
        return "source must be an object of texts"
    photo = b.get("photo")
    if photo is not None and not (isinstance(photo, str) and _SHA.match(photo)):
        return "photo must be a sha256"
    return _quantity_and_day(b, "received_on")


def _quantity_and_day(b: dict[str, Any], day_key: str | None) -> str | None:
    if not _is_quantity(b.get("quantity")):
        return "quantity must be a positive number"
    if not _is_text(b.get("unit"), 20):
        return "unit is required"
    if day_key is not None and not _is_day(b.get(day_key)):
        return f"{day_key} must be a date YYYY-MM-DD"
    return None


def _added(b: dict[str, Any]) -> str | None:
    if not (_is_text(b.get("batch"), 64) and _is_uuid(b.get("receipt"))):
        return "input.added names a batch and a receipt"
    if not _is_text(b.get("lot"), 20):
        return "lot must be the receiving lot code"
    if not isinstance(b.get("override", False), bool):
        return "override must be true or false"
    return _quantity_and_day(b, None)


def _shipped(b: dict[str, Any]) -> str | None:
    if not (_is_uuid(b.get("shipment")) and _is_text(b.get("batch"), 64)):
        return "lot.shipped names a shipment and a batch"
    if not _is_text(b.get("lot"), 20):
        return "lot must be a lot code"
    if not _snapshot(b.get("customer"), ("id", "name")):
        return "customer must name id and name"
    if b.get("serials") is not None and not _serials(b["serials"]):
        return "serials must be [first, last] with 1 <= first <= last"
    if not _is_text(b.get("note", ""), MAX_NOTE, empty=True):
        return f"note is at most {MAX_NOTE} characters"
    if not isinstance(b.get("override", False), bool):
        return "override must be true or false"
    return _quantity_and_day(b, "shipped_on")


def _corrected(b: dict[str, Any]) -> str | None:
    target = b.get("corrects")
    if not (
        isinstance(target, dict)
        and isinstance(target.get("seq"), int)
        and not isinstance(target.get("seq"), bool)
        and target["seq"] >= 1
        and _is_uuid(target.get("id"))
        and target.get("type") in CORRECTABLE
    ):
        return "corrects must be {seq, id, type} of a correctable event"
    changes = b.get("changes")
    allowed = CORRECTABLE[target["type"]]
    if not isinstance(changes, dict) or not changes or not set(changes) <= set(allowed):
        return f"changes may set only {', '.join(allowed)}"
    if "quantity" in changes and not _is_quantity(changes["quantity"]):
        return "quantity must be a positive number"
    for key in ("received_on", "shipped_on", "expiry_date"):
        if key in changes and not _is_day(changes[key]):
            return f"{key} must be a date YYYY-MM-DD"
    if "serials" in changes and not _serials(changes["serials"]):
        return "serials must be [first, last]"
    if "supplier_lot" in changes and not _is_text(
        changes["supplier_lot"], MAX_SUPPLIER_LOT, empty=True
    ):
        return f"supplier_lot is at most {MAX_SUPPLIER_LOT} characters"
    if "note" in changes and not _is_text(changes["note"], MAX_NOTE, empty=True):
        return f"note is at most {MAX_NOTE} characters"
    if not _is_text(b.get("reason"), MAX_REASON):
        return f"reason is required, at most {MAX_REASON} characters"
    return None


def _voided(b: dict[str, Any]) -> str | None:
    if not _is_text(b.get("batch"), 64):
        return "batch.voided names a batch"
    if not _is_text(b.get("reason"), MAX_REASON):
        return f"reason is required, at most {MAX_REASON} characters"
    return None


_CHECKS = {
    INPUT_RECEIVED: _received,
    INPUT_ADDED: _added,
    LOT_SHIPPED: _shipped,
    RECORD_CORRECTED: _corrected,
    BATCH_VOIDED: _voided,
}


def body_problem(event_type: str, body: Any) -> str | None:
    """Why ``body`` is not a usable body for one of :data:`SUPPLY_TYPES`; None when it is (or
    when the type is not one of them)."""
    check = _CHECKS.get(event_type)
    if check is None:
        return None
    if not isinstance(body, dict):
        return f"{event_type} body must be an object"
    problem = check(body)
    return f"{event_type}: {problem}" if problem else None
