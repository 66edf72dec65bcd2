"""Office CSV exports of batches and scans: streamed, and safe to open in Excel.

Files are UTF-8 with a byte-order mark (without it Excel reads Vietnamese as mojibake) and every
text cell that a spreadsheet would run as a formula gets a leading ``'`` (OWASP "CSV injection":
lot numbers and product names come from devices and catalogs, not from us). Rows are read in
keyset-ordered chunks, each with its own short connection, so a long download never holds the
database (SQLite reads begin with ``BEGIN IMMEDIATE`` here) while the client is slow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine, Select, and_, or_, select

from sync_server.store.db import batches, facilities, reading, scans
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_, VN_TZ
from sync_server.web.office import add_nav, bp

CHUNK = 500
BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

BATCH_COLUMNS = (
    "lot",
    "product_code",
    "product",
    "facility_code",
    "facility",
    "production_date",
    "opened_at",
    "closed_at",
    "expiry_date",
    "status",
    "quantity",
    "unit",
    "gtin",
    "device",
)
SCAN_COLUMNS = ("time", "lot", "serial", "gtin", "verdict", "place", "facility")

add_nav("office.exports", N_("exports"))


@bp.get("/exports")
@login_required()
def exports() -> ResponseReturnValue:
    with reading(engine()) as conn:
        facs = [
            dict(r)
            for r in conn.execute(
                select(facilities.c.code, facilities.c.name)
                .where(current_scope().facilities(facilities.c.code))
                .order_by(facilities.c.code)
            ).mappings()
        ]
    return render_template("office/exports.html", facilities=facs)


@bp.get("/exports/batches.csv")
@login_required()
def batches_csv() -> ResponseReturnValue:
    first, last = _date_arg("from"), _date_arg("to")
    conditions: list[Any] = [current_scope().facilities(batches.c.facility_code)]
    if facility := request.args.get("facility", "").strip():
        conditions.append(batches.c.facility_code == facility)
    if first is not None:
        conditions.append(batches.c.production_date >= first.isoformat())
    if last is not None:
        conditions.append(batches.c.production_date <= last.isoformat())
    query = select(batches).where(*conditions).order_by(*_BATCH_KEY).limit(CHUNK)
    rows = _keyset(engine(), query, _batch_after)
    return csv_response("batches.csv", BATCH_COLUMNS, (_batch_cells(r) for r in rows))


@bp.get("/exports/scans.csv")
@login_required()
def scans_csv() -> ResponseReturnValue:
    first, last = _date_arg("from"), _date_arg("to")
    conditions: list[Any] = [current_scope().facilities(scans.c.facility_code)]
    if facility := request.args.get("facility", "").strip():
        conditions.append(scans.c.facility_code == facility)
    # Dates are Vietnam days, as the office shows them.
    if first is not None:
        conditions.append(scans.c.at >= datetime.combine(first, time(), VN_TZ).timestamp())
    if last is not None:
        end = datetime.combine(last + timedelta(days=1), time(), VN_TZ)
        conditions.append(scans.c.at < end.timestamp())
    query = select(scans).where(*conditions).order_by(scans.c.id).limit(CHUNK)
    rows = _keyset(engine(), query, lambda r: [scans.c.id > r["id"]])
    return csv_response("scans.csv", SCAN_COLUMNS, (_scan_cells(r) for r in rows))


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name}: {raw!r} is not a date (YYYY-MM-DD)")


_BATCH_KEY = (batches.c.production_date, batches.c.opened_at, batches.c.dev_id, batches.c.batch_id)


def _batch_after(r: dict[str, Any]) -> list[Any]:
    """Rows after ``r`` in (production_date, opened_at, dev_id, batch_id) order."""
    values = [r[c.name] for c in _BATCH_KEY]
    terms = []
    for i, column in enumerate(_BATCH_KEY):
        equal = [_BATCH_KEY[j] == values[j] for j in range(i)]
        terms.append(and_(*equal, column > values[i]))
    return [or_(*terms)]


def _keyset(
    eng: Engine, query: Select[Any], after: Callable[[dict[str, Any]], list[Any]]
) -> Iterator[dict[str, Any]]:
    """Every row of ``query`` (which has a LIMIT), one short connection per chunk."""
    last: dict[str, Any] | None = None
    while True:
        with reading(eng) as conn:
            page = query.where(*after(last)) if last is not None else query
            chunk = [dict(r) for r in conn.execute(page).mappings()]
        yield from chunk
        if len(chunk) < CHUNK:
            return
        last = chunk[-1]


def _batch_cells(r: dict[str, Any]) -> list[Any]:
    product, facility = r["product"] or {}, r["facility"] or {}
    return [
        r["lot"],
        r["product_code"],
        product.get("name", ""),
        r["facility_code"],
        facility.get("name", ""),
        r["production_date"],
        r["opened_at"],
        r["closed_at"],
        r["expiry_date"],
        r["status"],
        r["quantity"],
        r["unit"],
        r["gtin"],
        r["dev_id"],
    ]


def _scan_cells(r: dict[str, Any]) -> list[Any]:
    at = datetime.fromtimestamp(float(r["at"]), VN_TZ).isoformat(timespec="seconds")
    return [at, r["lot"], r["serial"], r["gtin"], r["verdict"], r["place"], r["facility_code"]]


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that no spreadsheet evaluates; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The BOM and header, then the rows in chunks of text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield BOM + _drain(buffer)
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if n % CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_response(
    name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> ResponseReturnValue:
    stamp = datetime.now(VN_TZ).strftime("%Y%m%d")
    stem = name.removesuffix(".csv")
    response = Response(csv_lines(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
