"""What a ``record.corrected`` actually changed: the fields whose value differs, before and after.

The edge sends every field of the corrected record in ``changes`` (the form comes filled with the
current values), so ``changes`` alone cannot say what was corrected. Before a correction is what
the original event recorded with the earlier corrections of the same event applied, in journal
order; a field whose new value equals that is not a change (issue 15 review, item 1). The words
(labels, numbers, dates, unit names) are the pages' business: sync_server/web/describe.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select

from sync_server.store.db import corrections, events
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se

# What a consumer may see corrected: the record's steps, its close and its inputs (never a
# shipment, whose customer is the office's business), and never a note (private, DESIGN.md §5).
PUBLIC_CORRECTIONS = (ev.STEP_RECORDED, ev.BATCH_CLOSED, se.INPUT_ADDED)
PRIVATE_CHANGES = frozenset(("note",))


@dataclass(frozen=True)
class FieldChange:
    """One field a correction changed.

    ``key`` is the body's key (``quantity``, ``received_on``, ``serials`` …) or, for a step's
    measured value, ``values.<field>``, labelled as the step recorded it."""

    key: str
    before: Any
    after: Any
    corrects_type: str
    unit: str = ""
    label: str = ""  # a step field's label as the event recorded it (vi, en)
    label_en: str = ""


@dataclass(frozen=True)
class CorrectionView:
    """A ``record.corrected`` of one of a batch's events, with what it actually changed."""

    at: str
    reason: str
    corrects_seq: int
    corrects_type: str
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _mapping(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def field_changes(
    kind: str, before: Mapping[str, Any], changes: Mapping[str, Any]
) -> list[FieldChange]:
    """The fields of ``changes`` whose value differs from ``before`` (the record as it stood)."""
    out: list[FieldChange] = []
    for key, new in changes.items():
        if key == "values" and isinstance(new, Mapping):
            old_values = _mapping(before, "values")
            units, labels = _mapping(before, "units"), _mapping(before, "labels")
            labels_en = _mapping(before, "labels_en")
            for name, value in new.items():
                if _same(old_values.get(name), value):
                    continue
                out.append(
                    FieldChange(
                        key=f"values.{name}",
                        before=old_values.get(name),
                        after=value,
                        corrects_type=kind,
                        unit=str(units.get(name) or ""),
                        label=str(labels.get(name) or name),
                        label_en=str(labels_en.get(name) or ""),
                    )
                )
            continue
        old = before.get(key)
        if _same(old, new) or (old in (None, "") and new in (None, "")):
            continue
        unit = before.get("unit") if key == "quantity" else ""
        out.append(
            FieldChange(
                key=key,
                before=old,
                after=new,
                corrects_type=kind,
                unit=unit if isinstance(unit, str) else "",
            )
        )
    return out


def apply_changes(body: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The record after the correction: a step's values merge, other fields are replaced."""
    out = dict(body)
    for key, new in changes.items():
        old = out.get(key)
        if key == "values" and isinstance(new, Mapping) and isinstance(old, Mapping):
            out[key] = {**old, **new}
        else:
            out[key] = new
    return out


def changes_by_seq(
    conn: Connection, dev_id: str, seqs: Iterable[int]
) -> dict[int, tuple[FieldChange, ...]]:
    """What each of these ``record.corrected`` events of the device changed, by its seq.

    Reads the corrected events' original bodies and every correction of them up to the newest
    asked for (corrections of one event apply in journal order)."""
    wanted = set(seqs)
    if not wanted:
        return {}
    targets = select(corrections.c.corrects_seq).where(
        corrections.c.dev_id == dev_id, corrections.c.seq.in_(wanted)
    )
    history = conn.execute(
        select(
            corrections.c.seq,
            corrections.c.corrects_seq,
            corrections.c.corrects_type,
            corrections.c.changes,
            events.c.body,
        )
        .select_from(
            corrections.join(
                events,
                and_(
                    events.c.dev_id == corrections.c.dev_id,
                    events.c.seq == corrections.c.corrects_seq,
                ),
            )
        )
        .where(
            corrections.c.dev_id == dev_id,
            corrections.c.corrects_seq.in_(targets),
            corrections.c.seq <= max(wanted),
        )
        .order_by(corrections.c.seq)
    ).all()
    state: dict[int, dict[str, Any]] = {}
    out: dict[int, tuple[FieldChange, ...]] = {}
    for r in history:
        original = r.body if isinstance(r.body, Mapping) else {}
        before = state.get(r.corrects_seq, dict(original))
        changes = r.changes if isinstance(r.changes, Mapping) else {}
        if r.seq in wanted:
            out[r.seq] = tuple(field_changes(r.corrects_type, before, changes))
        state[r.corrects_seq] = apply_changes(before, changes)
    return out


def batch_corrections(conn: Connection, dev_id: str, batch_id: str) -> list[CorrectionView]:
    """Public corrections of the batch's own events (steps, uses, its close), oldest first, each
    with what it changed (a note never: private)."""
    rows = conn.execute(
        select(
            corrections.c.seq,
            corrections.c.at,
            corrections.c.reason,
            corrections.c.corrects_seq,
            corrections.c.corrects_type,
        )
        .select_from(
            corrections.join(
                events,
                and_(
                    events.c.dev_id == corrections.c.dev_id,
                    events.c.seq == corrections.c.corrects_seq,
                ),
            )
        )
        .where(
            corrections.c.dev_id == dev_id,
            events.c.batch_id == batch_id,
            corrections.c.corrects_type.in_(PUBLIC_CORRECTIONS),
        )
        .order_by(corrections.c.seq)
    ).all()
    changed = changes_by_seq(conn, dev_id, (r.seq for r in rows))
    return [
        CorrectionView(
            at=r.at,
            reason=r.reason,
            corrects_seq=r.corrects_seq,
            corrects_type=r.corrects_type,
            changes=tuple(c for c in changed.get(r.seq, ()) if c.key not in PRIVATE_CHANGES),
        )
        for r in rows
    ]
