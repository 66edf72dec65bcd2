"""The office's unblock page for a blocked device (issue 16): the evidence (each quarantined event
beside what the server holds at its seq), the cause explained, the decisions docs/protocol.md
"Unblocking" allows for it, and the decisions taken so far.

Every office account may decide (officers run their devices); a decision needs a reason and is
recorded with who and when (``device_decisions`` and the audit log). Out-of-scope devices are
404, like every office page.
"""

from __future__ import annotations

import logging

from flask import render_template, request
from flask.typing import ResponseReturnValue

from sync_server.devices.config_publisher import PublishError, publish_messages
from sync_server.devices.unblock import (
    DECISIONS,
    Decided,
    UnblockError,
    decide,
    decisions_of,
    evidence,
    pending_continuation,
    resend,
)
from sync_server.store.db import reading
from sync_server.web.auth import current_user, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, translate
from sync_server.web.office import bp
from sync_server.web.office.rows import device_or_404
from trace_protocol import topics

log = logging.getLogger(__name__)

# Ids used at run time (N_: extracted for the catalogs): each cause's explanation, each
# decision's label and explanation, each UnblockError code.
RUN_TIME_IDS = (
    N_("unblock_cause_fork"),
    N_("unblock_cause_chain_break"),
    N_("unblock_cause_wrong_device"),
    N_("unblock_cause_bad_body"),
    N_("unblock_cause_wrong_facility"),
    N_("unblock_cause_lot_taken"),
    N_("unblock_cause_unknown_batch"),
    N_("unblock_decision_accept"),
    N_("unblock_decision_continue"),
    N_("unblock_explain_accept"),
    N_("unblock_explain_continue"),
    N_("unblock_err_reason_missing"),
    N_("unblock_err_reason_long"),
    N_("unblock_err_not_blocked"),
    N_("unblock_err_not_allowed"),
    N_("unblock_err_evidence"),
    N_("unblock_err_already_continued"),
    N_("unblock_err_unknown"),
    N_("unblock_not_told"),
    N_("unblock_decision_resend"),
    N_("unblock_err_not_pending"),
)


def _render(dev: str, *, error: str = "", reason: str = "", done: Decided | None = None) -> str:
    d = device_or_404(dev)
    with reading(engine()) as conn:
        held = evidence(conn, dev)
        past = decisions_of(conn, dev)
        pending = pending_continuation(conn, dev)
    return render_template(
        "office/unblock.html",
        d=d,
        held=held,
        past=past,
        allowed=DECISIONS.get(d["blocked_code"] or "", ()) if d["revoked_at"] is None else (),
        error=error,
        reason=reason,
        done=done,
        pending=pending,
        enrol_url=config().public_base_url,
    )


@bp.get("/devices/<dev>/unblock")
@login_required()
def unblock(dev: str) -> ResponseReturnValue:
    return _render(dev)


@bp.post("/devices/<dev>/unblock")
@login_required()
def unblock_decide(dev: str) -> ResponseReturnValue:
    device_or_404(dev)  # 404 outside the user's scope
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "")
    user = current_user()
    assert user is not None  # login_required
    try:
        with engine().begin() as conn:
            done = decide(
                conn,
                dev,
                decision,
                user.username,
                reason,
                ttl_hours=config().broker.token_ttl_hours,
            )
    except UnblockError as exc:
        return _render(dev, error=translate(f"unblock_err_{exc.code}"), reason=reason), 400
    told = _tell_device(done)
    return _render(dev, done=done, error="" if told else translate("unblock_not_told"))


@bp.post("/devices/<dev>/unblock/resend")
@login_required()
def unblock_resend(dev: str) -> ResponseReturnValue:
    """A pending continuation's command again, with a new one-time token (the old one dies)."""
    device_or_404(dev)  # 404 outside the user's scope
    user = current_user()
    assert user is not None  # login_required
    try:
        with engine().begin() as conn:
            done = resend(conn, dev, user.username, ttl_hours=config().broker.token_ttl_hours)
    except UnblockError as exc:
        return _render(dev, error=translate(f"unblock_err_{exc.code}")), 400
    told = _tell_device(done)
    return _render(dev, done=done, error="" if told else translate("unblock_not_told"))


def _tell_device(done: Decided) -> bool:
    """Send the device what it needs to move: an ack without error, or the continue command.
    If the broker cannot be reached, an accepted device still learns it from its next status
    (sync_server/ingest/worker.py); for a continue the page says so, shows the token with the
    technician's command, and offers to send it again (``unblock_resend``)."""
    messages: list[tuple[str, bytes, bool]] = []
    if done.ack is not None:
        messages.append((topics.build_topic(done.dev, topics.ACK), done.ack.encode(), False))
    command = done.command()
    if command is not None:
        messages.append((topics.build_topic(done.dev, topics.CMD), command.encode(), False))
    try:
        publish_messages(config(), messages)
    except PublishError as exc:
        log.warning("unblock of %s: could not tell the device: %s", done.dev, exc)
        return False
    return True
