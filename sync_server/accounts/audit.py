"""The audit log (issue 16): every office action, who, when, what, with before and after.

:func:`record` is called in the transaction of the action itself, so an action and its log row
are committed together or not at all. ``who`` is the office account, ``cli:<unix user>`` for a
command run on the server (:func:`cli_actor`), or the name typed at a failed login. Values are
JSON; secrets (passwords, tokens, password hashes) never go in.
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, true

from sync_server.store.db import alerts
from sync_server.store.office_tables import audit_log

MAX_DETAIL = 2000


def record(
    conn: Connection,
    who: str,
    action: str,
    target: str,
    *,
    facility: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: str = "",
    now: float | None = None,
) -> None:
    """Add one row to the audit log (``action`` like ``facility.edit``, ``target`` what it
    acted on: a facility code, device id, lot, username)."""
    conn.execute(
        insert(audit_log).values(
            at=time.time() if now is None else now,
            username=who[:64],
            action=action[:40],
            target=target[:120],
            facility_code=facility,
            before=before,
            after=after,
            detail=detail[:MAX_DETAIL],
        )
    )


def audit_resolved(conn: Connection, alert_id: int, who: str) -> None:
    """The audit row of an alert an office user resolved (``alert.resolve``)."""
    row = conn.execute(
        select(alerts.c.kind, alerts.c.dev_id, alerts.c.facility_code).where(
            alerts.c.id == alert_id
        )
    ).first()
    if row is None:
        return
    record(
        conn,
        who,
        "alert.resolve",
        f"alert:{alert_id}",
        facility=row.facility_code,
        before={"resolved": False},
        after={"resolved": True},
        detail=" ".join(str(v) for v in (row.kind, row.dev_id) if v),
    )


def cli_actor() -> str:
    """Who acts from the command line on the server, as the audit log names them."""
    return f"cli:{getpass.getuser()}"


def changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the keys whose values differ, on each side (None for a side that did not exist):
    what the audit log keeps of an edit."""
    if before is None or after is None:
        return (None if before is None else dict(before)), (None if after is None else dict(after))
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before[k] for k in keys if k in before}, {k: after[k] for k in keys if k in after}


# Catalog keys the audit log never copies: the version changes on every save, and workers carry
# their PINs' hashes (kept as id and name only).
_CATALOG_SKIP = ("version", "v", "public_base_url")


def public_catalog(catalog: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A catalog as the audit log may hold it: no version, workers without their PIN hashes."""
    if catalog is None:
        return None
    out = {k: v for k, v in catalog.items() if k not in _CATALOG_SKIP}
    if "workers" in out:
        out["workers"] = [
            {"id": w.get("id"), "name": w.get("name")}
            for w in out["workers"]
            if isinstance(w, Mapping)
        ]
    return out


def catalog_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The top-level catalog keys an import changed, secrets left out."""
    return changes(public_catalog(before), public_catalog(after))


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page and ``ocop server audit`` narrow the log to (every field optional)."""

    user: str = ""
    action: str = ""
    target: str = ""  # contains
    since: float | None = None  # at >= since
    until: float | None = None  # at < until

    def where(self) -> ColumnElement[bool]:
        terms: list[ColumnElement[bool]] = []
        if self.user:
            terms.append(audit_log.c.username == self.user)
        if self.action:
            terms.append(audit_log.c.action == self.action)
        if self.target:
            terms.append(
                func.lower(audit_log.c.target).contains(self.target.lower(), autoescape=True)
            )
        if self.since is not None:
            terms.append(audit_log.c.at >= self.since)
        if self.until is not None:
            terms.append(audit_log.c.at < self.until)
        return and_(true(), *terms)


def entries(
    conn: Connection,
    where: AuditFilter,
    limit: int | None = None,
    offset: int = 0,
    below_id: int | None = None,
) -> list[dict[str, Any]]:
    """Audit rows, newest first (by id: the order they were written); ``below_id`` pages a long
    export by keyset."""
    query = select(audit_log).where(where.where()).order_by(audit_log.c.id.desc()).offset(offset)
    if below_id is not None:
        query = query.where(audit_log.c.id < below_id)
    if limit is not None:
        query = query.limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def show(value: Any) -> str:
    """A before/after value as one readable line (JSON, Vietnamese kept as is)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def count(conn: Connection, where: AuditFilter) -> int:
    query = select(func.count()).select_from(audit_log).where(where.where())
    return int(conn.execute(query).scalar() or 0)


def known_values(conn: Connection) -> tuple[list[str], list[str]]:
    """The users and actions the log holds, for the page's filter lists."""
    users = conn.execute(select(audit_log.c.username).distinct().order_by(audit_log.c.username))
    actions = conn.execute(select(audit_log.c.action).distinct().order_by(audit_log.c.action))
    return [str(u) for u in users.scalars()], [str(a) for a in actions.scalars()]


def changed_rows(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(key, before, after) for each key of an audit row that changed, for the page and the
    CSV; a value that is not a mapping shows as one row keyed ``""``."""
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        b = before if isinstance(before, Mapping) else {}
        a = after if isinstance(after, Mapping) else {}
        keys = list(dict.fromkeys([*b, *a]))
        return [(str(k), b.get(k), a.get(k)) for k in keys if b.get(k) != a.get(k)]
    if before is None and after is None:
        return []
    return [("", before, after)]
