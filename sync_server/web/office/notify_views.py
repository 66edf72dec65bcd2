"""The notifications page: an officer's own e-mail subscriptions to alerts (admins see everyone's)
and what the outbox holds for them: owed, sent, failing."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.accounts.scopes import scope_of
from sync_server.accounts.users import User
from sync_server.notify import outbox
from sync_server.notify.rules import DIGEST, IMMEDIATE, PROVINCE
from sync_server.notify.subscriptions import (
    SubscriptionError,
    add_subscription,
    districts_in,
    facilities_in,
    list_subscriptions,
    remove_subscription,
)
from sync_server.store.db import reading, users
from sync_server.web.auth import current_user, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, RUNTIME_IDS
from sync_server.web.office import add_nav, bp

add_nav("office.notifications", N_("notifications"))

# Ids the template builds at run time ('notify_' ~ a subscription's scope or mode).
RUNTIME = (
    # TRANSLATORS: a subscription to every alert the officer may see.
    N_("notify_province"),
    N_("notify_district"),
    N_("notify_facility"),
    # TRANSLATORS: a mail as soon as the alert is raised.
    N_("notify_immediate"),
    # TRANSLATORS: one mail a day listing the day's alerts.
    N_("notify_digest"),
)
ALERT_KINDS = tuple(k.removeprefix("alert_") for k in RUNTIME_IDS if k.startswith("alert_"))


def _me() -> User:
    user = current_user()
    assert user is not None  # login_required
    return user


def _page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    me = _me()
    scope = scope_of(me)
    mine = None if me.is_admin else me.username
    with reading(engine()) as conn:
        email = conn.execute(select(users.c.email).where(users.c.username == me.username)).scalar()
        subs = list_subscriptions(conn, mine)
        summary = outbox.outbox_summary(conn, mine)
        recent = outbox.recent_rows(conn, mine, limit=30)
        districts = districts_in(conn, scope)
        places = facilities_in(conn, scope)
    return render_template(
        "office/notifications.html",
        mail_on=config().smtp.enabled,
        digest_hour=config().notify.digest_hour,
        throttle_minutes=config().notify.throttle_minutes,
        email=email,
        subs=subs,
        summary=summary,
        recent=recent,
        districts=districts,
        places=places,
        kinds=ALERT_KINDS,
        modes=(IMMEDIATE, DIGEST),
        error=error,
    ), status


@bp.get("/notifications")
@login_required()
def notifications() -> ResponseReturnValue:
    return _page()


@bp.post("/notifications")
@login_required()
def subscribe() -> ResponseReturnValue:
    """One form: where (``province``, ``district:<name>`` or ``facility:<code>``), the kinds
    ticked (none: every kind), immediate or digest."""
    me = _me()
    target = request.form.get("target", PROVINCE)
    where, _, value = target.partition(":")
    kinds = request.form.getlist("kind") or None
    try:
        with engine().begin() as conn:
            add_subscription(
                conn,
                me.username,
                scope_of(me),
                where,
                value,
                kinds,
                request.form.get("mode", IMMEDIATE),
                ALERT_KINDS,
            )
    except SubscriptionError as exc:
        return _page(str(exc), 400)
    flash(N_("saved"))
    return redirect(url_for("office.notifications"))


@bp.post("/notifications/<int:sub_id>/remove")
@login_required()
def unsubscribe(sub_id: int) -> ResponseReturnValue:
    me = _me()
    with engine().begin() as conn:
        if not remove_subscription(conn, sub_id, me.username, me.is_admin):
            abort(404)
    flash(N_("saved"))
    return redirect(url_for("office.notifications"))
