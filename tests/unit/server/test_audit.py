"""The audit log (issue 16): each office action leaves one row naming who, what and the values
before and after, in the action's own transaction, and never a secret; the admins' page, its
filters and its CSV; officers' districts and e-mail set on the users page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, select

from ocop_cli.broker import free_port
from sync_server.accounts.audit import record
from sync_server.accounts.users import (
    AccountError,
    create_api_token,
    create_user,
    revoke_api_token,
    set_password,
    set_user,
)
from sync_server.config import ServerMqttConfig
from sync_server.devices.registry import import_catalog
from sync_server.store.alerts import raise_alert
from sync_server.store.db import alerts, users
from sync_server.store.office_tables import audit_log
from sync_server.trace.recalls import list_recalls, recall
from tests.unit.server.conftest import REPO
from tests.unit.server.office_client import (
    PASSWORD,
    csrf_of,
    log_in,
    make_app,
    officer_client,
    page_form,
    product_form,
)
from tests.unit.server.recall_chain import KC_BATCH, build_chain

ADMIN_PASSWORD = "mật-khẩu-quản-trị-0002"
HS_CATALOG = REPO / "ocop_cli" / "data" / "huong-son-antler.json"


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    # A broker nobody listens on: catalog saves are kept and owed, quickly.
    return make_app(engine, tmp_path, mqtt=ServerMqttConfig(port=free_port(), username=""))


@pytest.fixture
def admin(app: Flask, engine: Engine) -> FlaskClient:
    create_user(engine, "admin1", ADMIN_PASSWORD, "admin")
    client = app.test_client()
    assert log_in(client, "admin1", ADMIN_PASSWORD) == 302
    return client


def rows(engine: Engine, action: str | None = None) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def rows_in(conn: Connection, action: str) -> list[Any]:
    return list(conn.execute(select(audit_log).where(audit_log.c.action == action)).all())


def table_text(engine: Engine) -> str:
    """Every value of the audit table, for looking for secrets in it."""
    return json.dumps(rows(engine), ensure_ascii=False, default=str)


def csrf(client: FlaskClient, path: str = "/office/") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def test_logins_failures_and_logouts(app: Flask, engine: Engine) -> None:
    create_user(engine, "officer1", PASSWORD, "officer")
    client = app.test_client()
    assert log_in(client, "officer1", "sai-mật-khẩu-9999") == 401
    assert log_in(client, "ai-đó", "đoán-thử-mật-khẩu") == 401
    assert log_in(client, "officer1") == 302
    assert client.post("/office/logout", data={"csrf": csrf(client)}).status_code == 302
    got = [
        (r["username"], r["action"], r["target"])
        for r in rows(engine)
        if r["action"].startswith(("login", "logout"))
    ]
    assert got == [
        ("officer1", "login.failed", "officer1"),
        ("ai-đó", "login.failed", "ai-đó"),
        ("officer1", "login", "officer1"),
        ("officer1", "logout", "officer1"),
    ]
    text = table_text(engine)
    for secret in (PASSWORD, "sai-mật-khẩu-9999", "đoán-thử-mật-khẩu"):
        assert secret not in text
    with engine.connect() as conn:
        hashed = conn.execute(select(users.c.password_hash)).scalar()
    assert str(hashed) not in text


def test_a_product_edit_records_the_keys_it_changed(
    app: Flask, engine: Engine, admin: FlaskClient
) -> None:
    client = officer_client(app, engine)
    form = product_form(client)
    form.update({"name_vi": "Gạo Ngọc Mầm hữu cơ", "ocop_stars": "5"})
    assert client.post("/office/catalog/KC/NM", data=form).status_code == 302
    (row,) = rows(engine, "product.edit")
    assert (row["username"], row["target"], row["facility_code"]) == ("officer1", "KC/NM", "KC")
    # Only changed keys (the form also rewrites "origins" in Vietnamese only: a change too).
    assert {"name", "ocop_stars"} <= set(row["after"]) and "steps" not in row["after"]
    assert set(row["after"]) == set(row["before"])
    assert row["after"]["name"]["vi"] == "Gạo Ngọc Mầm hữu cơ" and row["after"]["ocop_stars"] == 5
    assert row["before"]["name"]["vi"] == "Gạo Ngọc Mầm"
    # The admin's page shows the change as a small table of keys.
    page = admin.get("/office/audit?action=product.edit").get_data(as_text=True)
    assert f'data-audit="{row["id"]}"' in page and "ocop_stars" in page
    assert "Gạo Ngọc Mầm hữu cơ" in page


def test_a_refused_or_rolled_back_action_leaves_no_row(app: Flask, engine: Engine) -> None:
    client = officer_client(app, engine)
    before = len(rows(engine))
    form = product_form(client)
    form.update({"ocop_stars": "9"})
    assert client.post("/office/catalog/KC/NM", data=form).status_code == 400
    with pytest.raises(AccountError):
        create_user(engine, "officer1", PASSWORD, "officer")  # exists already
    with pytest.raises(AccountError):
        set_user(engine, "officer1", districts=["huyện Không Có"])
    assert len(rows(engine)) == before

    # An action whose transaction fails after its audit row was written: neither stays.
    with engine.begin() as conn:
        build_chain(conn)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        recall(conn, KC_BATCH, "Mốc", "officer1")
        assert len(rows_in(conn, "recall")) == 1
        raise RuntimeError("the disk filled up")
    assert len(rows(engine)) == before
    with engine.connect() as conn:
        assert list_recalls(conn) == []


def test_workers_and_suppliers_without_pins_or_hashes(app: Flask, engine: Engine) -> None:
    client = officer_client(app, engine)
    path = "/office/catalog/KC/workers"
    resp = client.post(
        path,
        data={"csrf": csrf(client, path), "worker_id": "W9", "name": "Chị Lan", "pin": "482913"},
    )
    assert resp.status_code == 302
    resp = client.post(f"{path}/W9/remove", data={"csrf": csrf(client, path)})
    assert resp.status_code == 302
    (saved,) = rows(engine, "worker.save")
    (removed,) = rows(engine, "worker.remove")
    assert (saved["target"], saved["before"], saved["after"]) == (
        "KC/W9",
        None,
        {"name": "Chị Lan"},
    )
    assert (removed["target"], removed["before"], removed["after"]) == (
        "KC/W9",
        {"name": "Chị Lan"},
        None,
    )
    assert "482913" not in table_text(engine) and "pbkdf2" not in table_text(engine)

    form = page_form(client, "/office/catalog/KC/suppliers")
    old_name = form["suppliers-0-name"]
    form["suppliers-0-name"] = "Tổ hợp tác Đồng Hương"
    assert client.post("/office/catalog/KC/suppliers", data=form).status_code == 302
    (row,) = rows(engine, "suppliers.save")
    assert row["target"] == "KC/suppliers" and list(row["after"]) == [form["suppliers-0-id"]]
    assert row["before"][form["suppliers-0-id"]]["name"] == old_name
    assert row["after"][form["suppliers-0-id"]]["name"] == "Tổ hợp tác Đồng Hương"


def test_recall_lift_and_alert_resolve(app: Flask, engine: Engine) -> None:
    with engine.begin() as conn:
        build_chain(conn)
        raise_alert(conn, "kc-test-1", "KC", "device_silent", "im lặng 3 giờ")
    client = officer_client(app, engine)
    token = csrf(client, "/office/recalls")
    resp = client.post("/office/recalls", data={"csrf": token, "lot": KC_BATCH, "reason": "Mốc"})
    assert resp.status_code == 302
    recall_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    resp = client.post(
        f"/office/recalls/{recall_id}/lift", data={"csrf": token, "reason": "Mẫu đạt"}
    )
    assert resp.status_code == 302
    (made,) = rows(engine, "recall")
    (lifted,) = rows(engine, "recall.lift")
    assert (made["username"], made["target"], made["detail"]) == ("officer1", KC_BATCH, "Mốc")
    assert made["after"]["recall"] == recall_id
    assert lifted["before"] == {"recall": recall_id, "active": True}
    assert lifted["after"] == {"recall": recall_id, "active": False}
    # The catalogs' recalled lots follow the recall without rows of their own.
    assert rows(engine, "catalog.import")[1:] == []

    with engine.connect() as conn:
        alert_id = conn.execute(select(alerts.c.id)).scalar()
    resp = client.post(f"/office/alerts/{alert_id}/resolve", data={"csrf": token})
    assert resp.status_code == 302
    (resolved,) = rows(engine, "alert.resolve")
    assert (resolved["target"], resolved["facility_code"]) == (f"alert:{alert_id}", "KC")
    assert resolved["after"] == {"resolved": True} and "device_silent" in resolved["detail"]
    # Resolving it again changes nothing and records nothing.
    client.post(f"/office/alerts/{alert_id}/resolve", data={"csrf": token})
    assert len(rows(engine, "alert.resolve")) == 1


def test_users_districts_email_and_tokens(app: Flask, engine: Engine, admin: FlaskClient) -> None:
    import_catalog(engine, HS_CATALOG, "http://x")
    page = admin.get("/office/users").get_data(as_text=True)
    assert 'value="huyện Hương Sơn"' in page and 'value="huyện Thạch Hà"' in page
    resp = admin.post(
        "/office/users",
        data={
            "csrf": csrf_of(page),
            "username": "officer2",
            "password": PASSWORD,
            "role": "officer",
            "email": "can.bo@ocop.ha-tinh.vn",
            "district": ["huyện Hương Sơn"],
        },
    )
    assert resp.status_code == 302
    (made,) = [r for r in rows(engine, "user.create") if r["target"] == "officer2"]
    assert made["username"] == "admin1"
    assert made["after"] == {
        "role": "officer",
        "districts": ["huyện Hương Sơn"],
        "email": "can.bo@ocop.ha-tinh.vn",
    }

    # A bad address is refused with nothing saved; then both districts, a new address.
    bad = admin.post(
        "/office/users/officer2/edit",
        data={"csrf": csrf_of(page), "email": "not an address", "district": []},
    )
    assert bad.status_code == 400 and "not an e-mail address" in bad.get_data(as_text=True)
    ok = admin.post(
        "/office/users/officer2/edit",
        data={
            "csrf": csrf_of(page),
            "email": "officer2@ocop.ha-tinh.vn",
            "district": ["huyện Hương Sơn", "huyện Thạch Hà"],
        },
    )
    assert ok.status_code == 302
    (edit,) = rows(engine, "user.edit")
    assert edit["before"] == {"districts": ["huyện Hương Sơn"], "email": "can.bo@ocop.ha-tinh.vn"}
    assert edit["after"] == {
        "districts": ["huyện Hương Sơn", "huyện Thạch Hà"],
        "email": "officer2@ocop.ha-tinh.vn",
    }
    listed = admin.get("/office/users").get_data(as_text=True)
    assert "huyện Hương Sơn, huyện Thạch Hà" in listed and "officer2@ocop.ha-tinh.vn" in listed

    # None ticked: the whole province again, effective on the officer's next request.
    officer = app.test_client()
    assert log_in(officer, "officer2") == 302
    admin.post(
        "/office/users/officer2/edit",
        data={"csrf": csrf_of(page), "email": "officer2@ocop.ha-tinh.vn"},
    )
    with engine.connect() as conn:
        assert (
            conn.execute(select(users.c.districts).where(users.c.username == "officer2")).scalar()
            is None
        )
    assert officer.get("/office/").status_code == 200  # still logged in
    assert len(rows(engine, "user.edit")) == 2

    assert (
        admin.post("/office/users/officer2/disable", data={"csrf": csrf_of(page)}).status_code
        == 302
    )
    (disabled,) = rows(engine, "user.disable")
    assert disabled["after"] == {"disabled": True} and disabled["username"] == "admin1"

    set_password(engine, "officer2", "mật-khẩu-mới-12345", by="admin1")
    token = create_api_token(engine, "national-portal", by="admin1")
    revoke_api_token(engine, "national-portal", by="admin1")
    assert [r["target"] for r in rows(engine, "user.password")] == ["officer2"]
    assert [r["action"] for r in rows(engine) if r["target"] == "national-portal"] == [
        "api_token.create",
        "api_token.revoke",
    ]
    text = table_text(engine)
    assert token not in text and "mật-khẩu-mới-12345" not in text and PASSWORD not in text


def test_districts_are_for_officers_and_must_exist(engine: Engine, device: str) -> None:
    create_user(engine, "admin2", ADMIN_PASSWORD, "admin")
    with pytest.raises(AccountError, match="whole province"):
        set_user(engine, "admin2", districts=["huyện Thạch Hà"])
    with pytest.raises(AccountError, match="no facility is in district"):
        create_user(engine, "o3", PASSWORD, "officer", districts=["huyện Nam Đàn"])
    assert set_user(engine, "admin2", email="admin2@ocop.vn") is True
    assert set_user(engine, "admin2", email="admin2@ocop.vn") is False  # unchanged: no row
    assert len(rows(engine, "user.edit")) == 1


def test_the_page_filters_pages_and_exports_csv(
    app: Flask, engine: Engine, admin: FlaskClient
) -> None:
    officer = officer_client(app, engine)
    assert officer.get("/office/audit").status_code == 403
    assert officer.get("/office/audit.csv").status_code == 403
    assert "/office/audit" not in officer.get("/office/").get_data(as_text=True)
    assert 'href="/office/audit"' in admin.get("/office/").get_data(as_text=True)

    # 60 rows of one made-up action, spread over two days, and a few others.
    day1 = 1767225600.0  # 2026-01-01 07:00 in Vietnam
    with engine.begin() as conn:
        for n in range(60):
            record(
                conn,
                "cli:root",
                "test.action",
                f"LOT-{n:02d}",
                before={"q": n},
                after={"q": n + 1, "same": 1} if n else None,
                now=day1 + n * 2400,
            )
    page = admin.get("/office/audit?action=test.action").get_data(as_text=True)
    assert page.count('data-action="test.action"') == 50 and "1 / 2" in page
    assert "LOT-59" in page and "LOT-09" not in page  # newest first
    older = admin.get("/office/audit?action=test.action&page=2").get_data(as_text=True)
    assert older.count('data-action="test.action"') == 10 and "LOT-00" in older

    found = admin.get("/office/audit?target=lot-0").get_data(as_text=True)
    assert found.count('data-action="test.action"') == 10
    found = admin.get("/office/audit?user=officer1").get_data(as_text=True)
    assert 'data-action="login"' in found and 'data-action="test.action"' not in found
    # 2026-01-01 in Vietnam holds rows 0..25 (40 minutes apart from 07:00).
    day = admin.get("/office/audit?action=test.action&from=2026-01-01&to=2026-01-01")
    assert day.get_data(as_text=True).count('data-action="test.action"') == 26
    assert admin.get("/office/audit?from=yesterday").status_code == 400

    resp = admin.get("/office/audit.csv?action=test.action&from=2026-01-02")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    got = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert got[0] == ["time", "user", "action", "target", "facility", "before", "after", "detail"]
    assert [r[3] for r in got[1:]] == [f"LOT-{n:02d}" for n in range(59, 25, -1)]
    assert got[1][0] == "2026-01-02T22:20:00+07:00" and got[1][1] == "cli:root"
    assert json.loads(got[1][5]) == {"q": 59} and json.loads(got[1][6]) == {"q": 60, "same": 1}


def test_cli_users_and_audit(engine: Engine, device: str, tmp_path: Path) -> None:
    from tests.unit.server.test_recall_cli import ocop

    url = engine.url.render_as_string(hide_password=False)
    toml = tmp_path / "server.toml"
    toml.write_text(
        f'database_url = "{url}"\ndata_dir = "{tmp_path}"\n[mqtt]\nport = {free_port()}\n',
        encoding="utf-8",
    )
    pw = tmp_path / "pw"
    done = ocop(
        toml,
        "add-user",
        "cb-thach-ha",
        "--role",
        "officer",
        "--generate-to",
        str(pw),
        "--district",
        "huyện Thạch Hà",
        "--email",
        "cb@ocop.vn",
    )
    assert done.returncode == 0, done.stderr
    done = ocop(toml, "set-user", "cb-thach-ha", "--province", "--no-email")
    assert done.returncode == 0 and "changed" in done.stdout, done.stderr
    bad = ocop(toml, "set-user", "cb-thach-ha", "--district", "huyện Nam Đàn")
    assert bad.returncode == 2 and "no facility is in district" in bad.stderr
    listed = ocop(toml, "audit", "--json")
    got = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [g["action"] for g in got[:2]] == ["user.edit", "user.create"]
    assert got[0]["username"].startswith("cli:") and got[0]["after"] == {
        "districts": None,
        "email": None,
    }
    assert got[1]["after"]["districts"] == ["huyện Thạch Hà"]
    assert pw.read_text().strip() not in listed.stdout
    text = ocop(toml, "audit", "--since", "2020-01-01", "--action", "user.edit").stdout
    assert "user.edit  cb-thach-ha" in text and "districts: " in text
