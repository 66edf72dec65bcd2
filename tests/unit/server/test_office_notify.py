"""The office's Notifications page (issue 16): subscribe within one's district scope, see only
one's own subscriptions (admins: everyone's), remove, and the page says when mail is off."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, select, update

from sync_server.accounts.users import create_user
from sync_server.config import SmtpConfig
from sync_server.devices.registry import import_catalog
from sync_server.store.db import users
from sync_server.store.office_tables import audit_log, notify_subscriptions
from tests.unit.server.conftest import CATALOG, REPO
from tests.unit.server.office_client import PASSWORD, csrf_of, log_in, make_app, officer_client

HONEY = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    import_catalog(engine, CATALOG, "http://x")  # KC, huyện Thạch Hà
    import_catalog(engine, HONEY, "http://x")  # CN, huyện Hương Sơn
    return make_app(
        engine,
        tmp_path,
        smtp=SmtpConfig(host="127.0.0.1", from_address="ocop@example.test"),
    )


def _limit(engine: Engine, name: str, districts: list[str] | None, email: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.username == name).values(districts=districts, email=email)
        )


def _subs(engine: Engine) -> list[tuple[str, str, str, object, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                notify_subscriptions.c.username,
                notify_subscriptions.c.scope,
                notify_subscriptions.c.value,
                notify_subscriptions.c.kinds,
                notify_subscriptions.c.mode,
            ).order_by(notify_subscriptions.c.id)
        )
        return [tuple(r) for r in rows]


def test_a_district_officer_subscribes_within_their_district_only(
    app: Flask, engine: Engine
) -> None:
    client = officer_client(app, engine, "thachha")
    _limit(engine, "thachha", ["huyện Thạch Hà"], "thachha@example.test")
    page = client.get("/office/notifications").get_data(as_text=True)
    assert "thachha@example.test" in page
    assert 'value="district:huyện Thạch Hà"' in page and "huyện Hương Sơn" not in page
    assert 'value="facility:KC"' in page and 'value="facility:CN"' not in page
    token = csrf_of(page)
    resp = client.post(
        "/office/notifications",
        data={
            "csrf": token,
            "target": "district:huyện Thạch Hà",
            "kind": ["silent", "camera"],
            "mode": "immediate",
        },
    )
    assert resp.status_code == 302
    resp = client.post(
        "/office/notifications",
        data={"csrf": token, "target": "facility:KC", "mode": "digest"},
    )
    assert resp.status_code == 302
    # Another district's facility, typed into the form by hand: refused, nothing saved.
    resp = client.post(
        "/office/notifications",
        data={"csrf": token, "target": "facility:CN", "mode": "immediate"},
    )
    assert resp.status_code == 400
    assert "Bạn không được xem huyện hoặc cơ sở này." in resp.get_data(as_text=True)
    resp = client.post(
        "/office/notifications",
        data={"csrf": token, "target": "province", "kind": "no_such", "mode": "immediate"},
    )
    assert resp.status_code == 400
    assert _subs(engine) == [
        ("thachha", "district", "huyện Thạch Hà", ["camera", "silent"], "immediate"),
        ("thachha", "facility", "KC", None, "digest"),
    ]
    page = client.get("/office/notifications?lang=en").get_data(as_text=True)
    assert "Camera problem, Silent facility" in page
    assert "Daily digest" in page and "Every kind" in page
    with engine.connect() as conn:
        actions = conn.execute(
            select(audit_log.c.action).where(audit_log.c.username == "thachha")
        ).scalars()
        assert list(actions).count("notify.subscribe") == 2


def test_officers_see_and_remove_only_their_own_admins_everyones(
    app: Flask, engine: Engine
) -> None:
    one = officer_client(app, engine, "one")
    two = officer_client(app, engine, "two")
    for client in (one, two):
        token = csrf_of(client.get("/office/notifications").get_data(as_text=True))
        assert (
            client.post(
                "/office/notifications",
                data={"csrf": token, "target": "province", "mode": "immediate"},
            ).status_code
            == 302
        )
    with engine.connect() as conn:
        ids = dict(
            conn.execute(select(notify_subscriptions.c.username, notify_subscriptions.c.id)).all()
        )
    page = one.get("/office/notifications").get_data(as_text=True)
    assert f'data-sub="{ids["one"]}"' in page and f'data-sub="{ids["two"]}"' not in page
    token = csrf_of(page)
    # Someone else's subscription is not there for an officer.
    assert (
        one.post(f"/office/notifications/{ids['two']}/remove", data={"csrf": token}).status_code
        == 404
    )
    assert (
        one.post(f"/office/notifications/{ids['one']}/remove", data={"csrf": token}).status_code
        == 302
    )
    assert [s[0] for s in _subs(engine)] == ["two"]

    create_user(engine, "chief", PASSWORD, "admin")
    admin = app.test_client()
    assert log_in(admin, "chief") == 302
    page = admin.get("/office/notifications").get_data(as_text=True)
    assert f'data-sub="{ids["two"]}"' in page
    token = csrf_of(page)
    assert (
        admin.post(f"/office/notifications/{ids['two']}/remove", data={"csrf": token}).status_code
        == 302
    )
    assert _subs(engine) == []


def test_the_page_says_when_mail_is_off_or_the_account_has_no_address(
    engine: Engine, tmp_path: Path
) -> None:
    import_catalog(engine, CATALOG, "http://x")
    app = make_app(engine, tmp_path)  # no [smtp] host
    client = officer_client(app, engine, "quiet")
    page = client.get("/office/notifications").get_data(as_text=True)
    assert 'data-mail="off"' in page
    assert "Thông báo e-mail đang tắt" in page
    assert "chưa có địa chỉ e-mail" in page
