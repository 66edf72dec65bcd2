"""Rebuild the supply projections from the journal (``ocop server reproject``), and do it once at
start when the database's projection version is older than the code's (docs/protocol.md,
"Versions"): what a server committed before it knew an event type is projected after its upgrade.

The rebuild is one transaction that first locks every device row in id order, as ingest does
(sync_server/ingest/commit.py), so no chunk commits half-way through it; running it twice gives
the same tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, and_, case, delete, or_, select, update

from sync_server.ingest.projection import body_problem, project
from sync_server.ingest.supply_projection import PROJECTED, PROJECTION_VERSION, project_supply
from sync_server.store.db import batches, devices, events
from sync_server.store.supply_tables import (
    corrections,
    input_uses,
    projection_versions,
    receipts,
    shipments,
)
from trace_protocol import envelope as ev
from trace_protocol.envelope import Event

log = logging.getLogger(__name__)

NAME = "supply"
PAGE = 2000


def stored_version(conn: Connection) -> int:
    """The supply projection's version in the database (0: never rebuilt)."""
    version = conn.execute(
        select(projection_versions.c.version).where(projection_versions.c.name == NAME)
    ).scalar()
    return int(version or 0)


def reproject(engine: Engine) -> int:
    """Rebuild the supply projections from ``events``; returns how many events were replayed."""
    with engine.begin() as conn:
        _lock(conn)
        return _rebuild(conn)


def reproject_if_stale(engine: Engine) -> int | None:
    """Rebuild when the stored version is older than :data:`PROJECTION_VERSION`; None when it
    was current (checked again under the lock, so two servers starting together rebuild once)."""
    with engine.connect() as conn:
        if stored_version(conn) >= PROJECTION_VERSION:
            return None
    with engine.begin() as conn:
        _lock(conn)
        if stored_version(conn) >= PROJECTION_VERSION:
            return None
        count = _rebuild(conn)
    log.info("supply projections rebuilt from %s events (version %s)", count, PROJECTION_VERSION)
    return count


def _lock(conn: Connection) -> None:
    """Hold off ingest: the device rows in id order (ingest's order), then the version row."""
    conn.execute(select(devices.c.dev_id).order_by(devices.c.dev_id).with_for_update()).all()
    conn.execute(
        select(projection_versions.c.version)
        .where(projection_versions.c.name == NAME)
        .with_for_update()
    ).all()


def _rebuild(conn: Connection) -> int:
    for table in (corrections, input_uses, shipments, receipts):
        conn.execute(delete(table))
    conn.execute(
        update(batches)
        .where(or_(batches.c.voided_at.is_not(None), batches.c.status == "voided"))
        .values(
            voided_at=None,
            void_reason=None,
            status=case((batches.c.closed_at.is_not(None), "closed"), else_="open"),
        )
    )
    count = 0
    for e, received_at in _journal(conn):
        problem = body_problem(e)
        if problem is not None:  # committed by a server that did not check it: shown raw only
            log.warning("not projected: %s/%s: %s", e.dev, e.seq, problem)
            continue
        if e.type == ev.BATCH_CLOSED:
            project(conn, e)  # its quantity again, before the corrections that follow it
        else:
            project_supply(conn, e, received_at)
        count += 1
    _set_version(conn)
    return count


def _set_version(conn: Connection) -> None:
    done = conn.execute(
        update(projection_versions)
        .where(projection_versions.c.name == NAME)
        .values(version=PROJECTION_VERSION)
    )
    if done.rowcount == 0:
        conn.execute(projection_versions.insert().values(name=NAME, version=PROJECTION_VERSION))


def _journal(conn: Connection) -> Iterator[tuple[Event, float]]:
    """The committed events the supply projection reads, per device in seq order, in pages."""
    after: tuple[str, int] | None = None
    while True:
        query = (
            select(events)
            .where(events.c.type.in_(PROJECTED))
            .order_by(events.c.dev_id, events.c.seq)
            .limit(PAGE)
        )
        if after is not None:
            query = query.where(
                or_(
                    events.c.dev_id > after[0],
                    and_(events.c.dev_id == after[0], events.c.seq > after[1]),
                )
            )
        rows = conn.execute(query).mappings().all()
        for r in rows:
            event = Event(
                v=1,
                dev=r["dev_id"],
                seq=r["seq"],
                id=r["id"],
                type=r["type"],
                at=r["at"],
                clock=r["clock"],
                body=r["body"],
                prev=r["prev"],
                hash=r["hash"],
                sig=r["sig"],
            )
            yield event, float(r["received_at"])
        if len(rows) < PAGE:
            return
        after = (rows[-1]["dev_id"], rows[-1]["seq"])
