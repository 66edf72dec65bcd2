"""Office pages for one facility, one device and one batch, and the search box."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, or_, select

from sync_server.accounts.scopes import Scope
from sync_server.consumer.corrections import FieldChange, changes_by_seq
from sync_server.devices.liveness import device_state, facility_states
from sync_server.ingest.mass_balance import batch_balance
from sync_server.ingest.rejects import rejects_of
from sync_server.store.alerts import open_alerts
from sync_server.store.db import (
    batches,
    blob_refs,
    corrections,
    devices,
    events,
    facilities,
    quarantine,
    reading,
    scans,
)
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import current_lang
from sync_server.web.office import bp
from sync_server.web.office.journal_view import event_fields
from trace_protocol import envelope as ev

JOURNAL_PAGE = 200


def _batch_rows(conn: Connection, *conditions: Any, limit: int = 100) -> list[dict[str, Any]]:
    query = select(batches).order_by(batches.c.opened_at.desc()).limit(limit)
    for cond in conditions:
        query = query.where(cond)
    return [dict(r) for r in conn.execute(query).mappings()]


@bp.get("/facilities/<code>")
@login_required()
def facility(code: str) -> ResponseReturnValue:
    with reading(engine()) as conn:
        row = conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()
        if row is None or not current_scope().allows(conn, code):
            abort(404)
        live = next(f for f in facility_states(conn, config().office) if f.code == code)
        recent = _batch_rows(conn, batches.c.facility_code == code)
        alerts = open_alerts(conn, facility=code)
    return render_template(
        "office/facility.html",
        f=row,
        live=live,
        batches=recent,
        alerts=alerts,
        products=row["catalog"].get("products", []),
    )


@bp.get("/devices/<dev>")
@login_required()
def device(dev: str) -> ResponseReturnValue:
    before = request.args.get("before", type=int)
    with reading(engine()) as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        if row is None or not current_scope().allows(conn, row["facility_code"]):
            abort(404)
        live = device_state(row, config().office, _now())
        query = (select(events).where(events.c.dev_id == dev).order_by(events.c.seq.desc())).limit(
            JOURNAL_PAGE
        )
        if before is not None:
            query = query.where(events.c.seq < before)
        journal = _journal(conn, dev, conn.execute(query).mappings())
        held = [
            dict(r)
            for r in conn.execute(
                select(quarantine)
                .where(quarantine.c.dev_id == dev)
                .order_by(quarantine.c.id.desc())
                .limit(50)
            ).mappings()
        ]
        photos = _photos(conn, blob_refs.c.dev_id == dev, limit=24)
        alerts = open_alerts(conn, dev=dev)
        rejected = rejects_of(conn, dev)
    older = journal[-1]["seq"] if len(journal) == JOURNAL_PAGE else None
    return render_template(
        "office/device.html",
        d=row,
        live=live,
        journal=journal,
        older=older,
        quarantined=held,
        rejected=rejected,
        photos=photos,
        alerts=alerts,
        status_json=json.dumps(row["status"] or {}, ensure_ascii=False, indent=1),
    )


@bp.get("/batches/<dev>/<batch_id>")
@login_required()
def batch(dev: str, batch_id: str) -> ResponseReturnValue:
    with reading(engine()) as conn:
        row = (
            conn.execute(
                select(batches).where(batches.c.dev_id == dev, batches.c.batch_id == batch_id)
            )
            .mappings()
            .first()
        )
        if row is None or not current_scope().allows(conn, row["facility_code"]):
            abort(404)
        # The batch's events and the corrections of them (a record.corrected names the event
        # it corrects, not the batch).
        own = select(events.c.seq).where(events.c.dev_id == dev, events.c.batch_id == batch_id)
        fixes = select(corrections.c.seq).where(
            corrections.c.dev_id == dev, corrections.c.corrects_seq.in_(own)
        )
        journal = _journal(
            conn,
            dev,
            conn.execute(
                select(events)
                .where(
                    events.c.dev_id == dev,
                    or_(events.c.batch_id == batch_id, events.c.seq.in_(fixes)),
                )
                .order_by(events.c.seq)
            ).mappings(),
        )
        runs = [e for e in journal if e["type"] == ev.LABELS_PRINTED]
        scan_rows = [
            dict(r)
            for r in conn.execute(
                select(scans)
                .where(scans.c.lot == row["lot"])
                .order_by(scans.c.at.desc())
                .limit(200)
            ).mappings()
        ]
        photos = _photos(
            conn, blob_refs.c.dev_id == dev, blob_refs.c.batch_id == batch_id, limit=200
        )
        balance = batch_balance(conn, row)
    return render_template(
        "office/batch.html",
        b=row,
        journal=journal,
        runs=runs,
        scans=scan_rows,
        photos=photos,
        balance=balance,
    )


@bp.get("/search")
@login_required()
def search() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()
    found: list[dict[str, Any]] = []
    facs: list[dict[str, Any]] = []
    if q:
        like = f"%{q}%"
        scope = current_scope()
        with reading(engine()) as conn:
            found = _batch_rows(
                conn,
                scope.facilities(batches.c.facility_code),
                or_(
                    batches.c.lot.ilike(like),
                    batches.c.product_code.ilike(like),
                    batches.c.gtin.like(like),
                    batches.c.facility_code.ilike(like),
                ),
                limit=200,
            )
            facs = [
                dict(r)
                for r in conn.execute(
                    select(facilities.c.code, facilities.c.name, facilities.c.commune).where(
                        or_(facilities.c.code.ilike(like), facilities.c.name.ilike(like)),
                        scope.facilities(facilities.c.code),
                    )
                ).mappings()
            ]
            names = {f["code"] for f in facs}
            if names:
                found += _batch_rows(conn, batches.c.facility_code.in_(names), limit=200)
            found += _by_product_name(conn, q, scope)
    unique = {(b["dev_id"], b["batch_id"]): b for b in found}
    return render_template(
        "office/search.html", q=q, batches=list(unique.values())[:200], facilities=facs
    )


def _by_product_name(conn: Connection, q: str, scope: Scope) -> list[dict[str, Any]]:
    """Batches in scope whose product name (Vietnamese or English, in the facility catalog)
    matches."""
    needle = q.casefold()
    codes: set[tuple[str, str]] = set()
    mine = select(facilities.c.code, facilities.c.catalog).where(
        scope.facilities(facilities.c.code)
    )
    for fac in conn.execute(mine).mappings():
        for p in fac["catalog"].get("products", []):
            name = p.get("name", {})
            text = " ".join(str(v) for v in name.values()) if isinstance(name, dict) else str(name)
            if needle in text.casefold():
                codes.add((fac["code"], str(p.get("code"))))
    out: list[dict[str, Any]] = []
    for fac_code, prod_code in codes:
        out += _batch_rows(
            conn, batches.c.facility_code == fac_code, batches.c.product_code == prod_code
        )
    return out


def _journal(conn: Connection, dev: str, rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Journal rows as the office reads them; a correction with the fields it actually changed
    (sync_server/consumer/corrections.py) rather than the values the edge resent."""
    rows = list(rows)
    fixed = changes_by_seq(conn, dev, (r["seq"] for r in rows if r["type"] == ev.RECORD_CORRECTED))
    return [_event_view(r, fixed.get(r["seq"])) for r in rows]


def _event_view(r: Any, changes: tuple[FieldChange, ...] | None = None) -> dict[str, Any]:
    body = r["body"]
    if changes is not None and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "changes"}
    return {
        "seq": r["seq"],
        "type": r["type"],
        "at": r["at"],
        "clock": r["clock"],
        "hash": r["hash"],
        "body": r["body"],
        "by": _worker_name(r["body"]),
        # Labelled values, measured values first; text as the worker typed it (escaped by Jinja).
        "fields": event_fields(body, current_lang()),
        # A correction's changed fields (None: not a correction the server projected).
        "changes": changes,
    }


def _worker_name(body: Any) -> str:
    """Who made the event at the touchscreen (``by``, issue 12); private, for the office only."""
    by = body.get("by") if isinstance(body, dict) else None
    if not isinstance(by, dict):
        return ""
    name, wid = by.get("name"), by.get("id")
    return str(name or wid or "")[:80]


def _photos(conn: Connection, *conditions: Any, limit: int) -> list[dict[str, Any]]:
    """Arrived photos (full image + thumbnail, private ones too), newest first."""
    query = (
        select(blob_refs)
        .where(blob_refs.c.kind.in_(("full", "thumb")), blob_refs.c.received_at.is_not(None))
        .order_by(blob_refs.c.seq.desc())
    )
    for cond in conditions:
        query = query.where(cond)
    by_seq: dict[tuple[str, int], dict[str, Any]] = {}
    for r in conn.execute(query.limit(limit * 2)).mappings():
        item = by_seq.setdefault(
            (r["dev_id"], r["seq"]),
            {
                "seq": r["seq"],
                "camera": r["camera"],
                "purpose": r["purpose"],
                "dev_id": r["dev_id"],
            },
        )
        item[r["kind"]] = r["sha256"]
    return [p for p in by_seq.values() if "thumb" in p][:limit]


def _now() -> float:
    return time.time()
