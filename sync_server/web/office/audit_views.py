"""The audit log page for admins (issue 16): every office action, newest first, filtered and
paged, each edit's changed keys in a small table; the same rows as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from sync_server.accounts.audit import (
    AuditFilter,
    changed_rows,
    count,
    entries,
    known_values,
    show,
)
from sync_server.store.db import reading
from sync_server.web.auth import login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_, VN_TZ
from sync_server.web.office import add_nav, bp
from sync_server.web.office.exports import CHUNK, csv_response

PAGE = 50
AUDIT_COLUMNS = ("time", "user", "action", "target", "facility", "before", "after", "detail")
FILTERS = ("user", "action", "target", "from", "to")

add_nav("office.audit", N_("audit"), admin_only=True)


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name}: {raw!r} is not a date (YYYY-MM-DD)")


def _filter() -> AuditFilter:
    """The filters of the query string; dates are whole days in Vietnam time, both included."""
    first, last = _day("from"), _day("to")
    since = datetime.combine(first, time(), VN_TZ).timestamp() if first else None
    until = datetime.combine(last + timedelta(days=1), time(), VN_TZ).timestamp() if last else None
    return AuditFilter(
        user=request.args.get("user", "").strip(),
        action=request.args.get("action", "").strip(),
        target=request.args.get("target", "").strip(),
        since=since,
        until=until,
    )


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "changes": [(k, show(b), show(a)) for k, b, a in changed_rows(row["before"], row["after"])],
    }


@bp.get("/audit")
@login_required("admin")
def audit() -> ResponseReturnValue:
    where = _filter()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with reading(engine()) as conn:
        total = count(conn, where)
        rows = entries(conn, where, limit=PAGE, offset=(page - 1) * PAGE)
        users, actions = known_values(conn)
    args = {k: request.args.get(k, "") for k in FILTERS}
    kept = {k: v for k, v in args.items() if v}

    def page_url(n: int) -> str:
        return url_for("office.audit") + "?" + urlencode({**kept, "page": n})

    return render_template(
        "office/audit.html",
        rows=[_shown(r) for r in rows],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        page_url=page_url,
        args=args,
        users=users,
        actions=actions,
        csv_url=url_for("office.audit_csv") + ("?" + urlencode(kept) if kept else ""),
    )


@bp.get("/audit.csv")
@login_required("admin")
def audit_csv() -> ResponseReturnValue:
    # The engine now: the rows are streamed after the request's context has gone.
    return csv_response("audit.csv", AUDIT_COLUMNS, _csv_rows(engine(), _filter()))


def _csv_rows(eng: Engine, where: AuditFilter) -> Iterator[list[Any]]:
    """Every filtered row, newest first, read in chunks with a short connection each."""
    below: int | None = None
    while True:
        with reading(eng) as conn:
            chunk = entries(conn, where, limit=CHUNK, below_id=below)
        for r in chunk:
            at = datetime.fromtimestamp(float(r["at"]), VN_TZ).isoformat(timespec="seconds")
            yield [
                at,
                r["username"],
                r["action"],
                r["target"],
                r["facility_code"],
                show(r["before"]),
                show(r["after"]),
                r["detail"],
            ]
        if len(chunk) < CHUNK:
            return
        below = int(chunk[-1]["id"])
