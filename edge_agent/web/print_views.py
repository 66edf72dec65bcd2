"""Touchscreen printing: queue labels (once per form), confirm a reprint, follow the job.

The print job's real state stands right under the print button (issue 13: "Đã in nhãn" showed
before the printer had done anything). Without JavaScript the page shows the state and a
refresh button; ``static/print.js`` polls :func:`jobs` and redraws it in place.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edge_agent import batches as domain
from edge_agent import queries
from edge_agent.numbers import NumberError, parse_number
from edge_agent.printing import MAX_COPIES, request_print
from edge_agent.web.views import _agent, _error_page, _message, bp, once, render_batch
from edge_agent.web.workers import current_by

ACTIVE = ("queued", "printing", "waiting")


def _copies(text: str) -> int:
    """The copies field by the number rule of ``edge_agent.numbers``: whole, 1..MAX_COPIES."""
    try:
        value = parse_number(text)
    except NumberError:
        value = 0.0
    if not value.is_integer() or not 1 <= value <= MAX_COPIES:
        raise domain.DomainError("copies_invalid", max=MAX_COPIES)
    return int(value)


@bp.post("/batches/<batch_id>/labels")
def labels(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    form = request.form
    reprint = form.get("reprint")
    try:
        reprint_of = int(reprint) if reprint and reprint.isdigit() else None
        copies = 0 if reprint_of is not None else _copies(form.get("copies", "1"))
        response = once(
            lambda after: request_print(
                agent.journal,
                batch_id,
                copies=copies,
                unit=form.get("kind") == "unit",
                fmt=agent.config.printer.format,
                printer=agent.config.printer.kind,
                reprint_of=reprint_of,
                by=current_by(),
                after=after,
            ),
            lambda event: url_for("ui.batch", batch_id=batch_id, saved="printed", job=event.seq),
        )
    except domain.DomainError as exc:
        if exc.code == "copies_invalid":
            return render_batch(batch_id, None, form.to_dict(), 400, {"copies": _message(exc)})
        return render_batch(batch_id, _message(exc), form.to_dict(), 400)
    agent.print_queue.notify()
    return response


@bp.get("/batches/<batch_id>/reprint/<int:seq>")
def confirm_reprint(batch_id: str, seq: int) -> str | tuple[str, int]:
    """A reprint asks first: it repeats the same unit codes (issue 13)."""
    agent = _agent()
    with agent.journal.store.read() as db:
        batch = queries.get_batch(db, batch_id)
        job = next((j for j in queries.print_jobs(db, batch_id) if j.seq == seq), None)
    if batch is None or job is None:
        return _error_page(domain.DomainError("reprint_unknown"))
    return render_template(
        "confirm_reprint.html",
        b=batch,
        job=job,
        here=url_for("ui.confirm_reprint", batch_id=batch_id, seq=seq),
    )


@bp.get("/batches/<batch_id>/jobs")
def jobs(batch_id: str) -> dict[str, Any]:
    """The batch's print jobs for ``print.js``: the panel's HTML and whether one still runs."""
    with _agent().journal.store.read() as db:
        batch = queries.get_batch(db, batch_id)
        views = queries.print_jobs(db, batch_id) if batch else []
    return {
        "active": any(j.state in ACTIVE for j in views),
        "jobs": [
            {"seq": j.seq, "state": j.state, "done": j.done, "copies": j.copies} for j in views
        ],
        "html": render_template("_jobs.html", b=batch, jobs=views) if batch else "",
    }
