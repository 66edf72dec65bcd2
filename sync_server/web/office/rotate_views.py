"""The office rotates a device's broker password (issue 16; docs/protocol.md, "Unblocking"): the
decision for forged traffic on a device's topics, taken from the device page with a reason.

In this order: the decision's transaction (``device_decisions``, audit row, the hash removed,
a one-time token only the device's key can use); the ``rekey`` command with the token on the
device's ``cmd`` topic, confirmed by the broker (PUBACK) while the device still has its login;
then the broker's files rewritten and reloaded, which cuts off everyone holding the old
password (the device included, until it re-enrols). The page shows the token and the line a
technician runs on the Pi if the device missed the command. Out-of-scope devices are 404.
"""

from __future__ import annotations

import logging

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.devices.broker_auth import reload_broker, write_broker_auth
from sync_server.devices.config_publisher import PublishError, publish_messages
from sync_server.devices.rotation import Rotated, rotate
from sync_server.devices.unblock import ROTATE, UnblockError
from sync_server.ingest.rejects import rejects_of
from sync_server.store.db import reading
from sync_server.store.office_tables import device_decisions
from sync_server.web.auth import current_user, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, translate
from sync_server.web.office import bp
from sync_server.web.office.rows import device_or_404
from trace_protocol import topics

log = logging.getLogger(__name__)

# Ids used at run time (N_: extracted for the catalogs): the decision's name in the unblock
# page's history, the refusals rotate() may raise.
RUN_TIME_IDS = (
    N_("unblock_decision_rotate"),
    N_("unblock_err_revoked"),
    N_("unblock_err_not_enrolled"),
)


def _render(
    dev: str,
    *,
    error: str = "",
    reason: str = "",
    done: Rotated | None = None,
    told: bool = False,
    reloaded: bool = False,
) -> str:
    d = device_or_404(dev)
    with reading(engine()) as conn:
        rejected = rejects_of(conn, dev)
        past = [
            dict(r)
            for r in conn.execute(
                select(device_decisions)
                .where(device_decisions.c.dev_id == dev, device_decisions.c.decision == ROTATE)
                .order_by(device_decisions.c.id.desc())
            ).mappings()
        ]
    return render_template(
        "office/rotate.html",
        d=d,
        rejected=rejected,
        past=past,
        error=error,
        reason=reason,
        done=done,
        told=told,
        reloaded=reloaded,
        server_url=config().public_base_url,
    )


@bp.get("/devices/<dev>/rotate")
@login_required()
def rotate_page(dev: str) -> ResponseReturnValue:
    return _render(dev)


@bp.post("/devices/<dev>/rotate")
@login_required()
def rotate_password(dev: str) -> ResponseReturnValue:
    device_or_404(dev)  # 404 outside the user's scope
    reason = request.form.get("reason", "")
    user = current_user()
    assert user is not None  # login_required
    cfg = config()
    try:
        with engine().begin() as conn:
            done = rotate(conn, dev, user.username, reason, ttl_hours=cfg.broker.token_ttl_hours)
    except UnblockError as exc:
        return _render(dev, error=translate(f"unblock_err_{exc.code}"), reason=reason), 400
    # Told first: once the broker has re-read its files the device cannot hear its cmd topic.
    told = _tell_device(done)
    write_broker_auth(engine(), cfg.auth_dir)
    reloaded = reload_broker(cfg.broker.reload_command)
    log.info("broker password of %s rotated (told: %s, reloaded: %s)", dev, told, reloaded)
    return _render(dev, done=done, told=told, reloaded=reloaded)


def _tell_device(done: Rotated) -> bool:
    """The ``rekey`` command, confirmed by the broker; False if it could not be sent."""
    topic = topics.build_topic(done.dev, topics.CMD)
    try:
        publish_messages(config(), [(topic, done.command().encode(), False)])
    except PublishError as exc:
        log.warning("rotation of %s: could not tell the device: %s", done.dev, exc)
        return False
    return True
