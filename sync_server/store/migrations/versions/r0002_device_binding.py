"""Devices bound to their facility: lot letters, one batch per lot (issue 12, finding 1).

Revision ID: 0002
Revises: 0001
Created: 2026-12-05

- ``devices.lot_index``: each device's lot letter, unique per facility. Devices that already
  exist keep none (they cannot learn one: they enrolled already, and keep minting the old lot
  form); a device created but not yet enrolled is given one when it enrols.
- ``batches.facility_code`` is set from the device's registered facility, not the event body.
- ``batches.received_at``: when the server committed the ``batch.opened`` event.
- ``batches.public_lot``: the lot as consumers resolve it, unique. A database from before this
  revision may hold a lot twice (two devices of one facility with the same prefix, or a device
  that took another facility's lot). For each such lot one batch keeps it: one whose device is
  registered for the facility the batch names, the first committed. Every other batch of that
  lot, and every batch that names a facility other than its device's, keeps its row (the office
  still sees it) but gets no public lot, and the office gets an alert per batch. Nothing is
  deleted.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the columns this revision reads and writes (never db.py: it moves on).
_devices = sa.table("devices", sa.column("dev_id"), sa.column("facility_code"))
_events = sa.table(
    "events",
    sa.column("dev_id"),
    sa.column("seq"),
    sa.column("type"),
    sa.column("batch_id"),
    sa.column("received_at"),
)
_batches = sa.table(
    "batches",
    sa.column("dev_id"),
    sa.column("batch_id"),
    sa.column("lot"),
    sa.column("facility_code"),
    sa.column("facility", sa.JSON),
    sa.column("public_lot"),
    sa.column("received_at"),
)
_alerts = sa.table(
    "alerts",
    sa.column("dev_id"),
    sa.column("facility_code"),
    sa.column("kind"),
    sa.column("subject"),
    sa.column("detail"),
    sa.column("created_at"),
)


def upgrade() -> None:
    op.add_column("devices", sa.Column("lot_index", sa.Integer()))
    op.create_index("devices_lot_index", "devices", ["facility_code", "lot_index"], unique=True)
    op.add_column("batches", sa.Column("public_lot", sa.String(20)))
    op.add_column("batches", sa.Column("received_at", sa.Float()))
    conn = op.get_bind()
    _backfill(conn)
    op.create_index("batches_public_lot", "batches", ["public_lot"], unique=True)
    op.create_index("batches_received", "batches", ["received_at"])


def _backfill(conn: sa.Connection) -> None:
    opening = (
        sa.select(_events.c.received_at)
        .where(
            _events.c.dev_id == _batches.c.dev_id,
            _events.c.batch_id == _batches.c.batch_id,
            _events.c.type == "batch.opened",
        )
        .scalar_subquery()
    )
    registered = (
        sa.select(_devices.c.facility_code)
        .where(_devices.c.dev_id == _batches.c.dev_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(
            _batches.c.dev_id,
            _batches.c.batch_id,
            _batches.c.lot,
            _batches.c.facility,
            registered.label("registered"),
            opening.label("received_at"),
        )
    ).all()
    conn.execute(sa.update(_batches).values(received_at=opening, facility_code=registered))
    conn.execute(sa.update(_batches).values(public_lot=_batches.c.lot))
    by_lot: dict[str, list[Any]] = {}
    for r in rows:
        by_lot.setdefault(r.lot, []).append(r)
    now = time.time()
    for lot, group in by_lot.items():
        ranked = sorted(group, key=lambda r: (not _own(r), r.received_at or 0.0, r.dev_id))
        owner = ranked[0] if _own(ranked[0]) else None
        for r in ranked:
            if r is owner:
                continue
            kind, why = (
                ("wrong_facility", f"names facility {_claimed(r)!r}, the device is {r.registered}")
                if not _own(r)
                else ("lot_taken", f"lot first opened by device {owner.dev_id if owner else '?'}")
            )
            conn.execute(
                sa.update(_batches)
                .where(_batches.c.dev_id == r.dev_id, _batches.c.batch_id == r.batch_id)
                .values(public_lot=None)
            )
            conn.execute(
                sa.insert(_alerts).values(
                    dev_id=r.dev_id,
                    facility_code=r.registered,
                    kind=kind,
                    subject=lot,
                    detail=f"batch {r.batch_id} (lot {lot}) hidden from consumers: {why}",
                    created_at=now,
                )
            )


def _claimed(row: Any) -> str:
    facility = row.facility
    return str(facility.get("code", "")) if isinstance(facility, dict) else ""


def _own(row: Any) -> bool:
    """The batch names its device's registered facility (or none at all)."""
    claimed = _claimed(row)
    return claimed in ("", row.registered)
