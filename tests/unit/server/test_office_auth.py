"""Office access: anonymous visitors are refused, forms need the CSRF token, sessions end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from sync_server.accounts.users import (
    AccountError,
    authenticate,
    create_user,
    disable_user,
    set_password,
)
from tests.unit.server.office_client import (
    PASSWORD,
    csrf_of,
    log_in,
    make_app,
    officer_client,
)


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    return make_app(engine, tmp_path)


def _office_rules(app: Flask, method: str) -> list[str]:
    """Every office URL for this method, with placeholder values for its parameters."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/office") or method not in (rule.methods or ()):
            continue
        if rule.endpoint in ("office.login", "office.static"):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "KC")
        urls.append(url)
    return sorted(set(urls))


def test_every_office_page_sends_anonymous_visitors_to_the_login(app: Flask) -> None:
    client = app.test_client()
    urls = _office_rules(app, "GET")
    assert "/office/" in urls and "/office/catalog" in urls
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert resp.headers["Location"].startswith("/office/login?next="), url


def test_every_office_form_refuses_a_missing_or_wrong_csrf_token(
    app: Flask, engine: Engine
) -> None:
    client = officer_client(app, engine)
    urls = _office_rules(app, "POST")
    assert "/office/logout" in urls
    for url in urls:
        assert client.post(url, data={}).status_code == 400, url
        assert client.post(url, data={"csrf": "forged"}).status_code == 400, url
    # Still logged in: the refused logout did nothing.
    assert client.get("/office/").status_code == 200


def test_login_itself_needs_the_csrf_token(app: Flask, engine: Engine) -> None:
    create_user(engine, "officer1", PASSWORD, "officer")
    client = app.test_client()
    client.get("/office/login")
    resp = client.post("/office/login", data={"username": "officer1", "password": PASSWORD})
    assert resp.status_code == 400
    assert "Biểu mẫu đã hết hạn" in resp.get_data(as_text=True)


def test_wrong_password_is_refused_and_repeated_failures_lock_the_name(
    app: Flask, engine: Engine
) -> None:
    # The failure count lives in the process: a name of its own per database this test runs on.
    name = f"locked-{engine.dialect.name}"
    create_user(engine, name, PASSWORD, "officer")
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, name, "not the password") == 401
    # The right password no longer helps for a while.
    assert log_in(client, name) == 429
    assert client.get("/office/").status_code == 302


def test_login_redirects_only_inside_the_office(app: Flask, engine: Engine) -> None:
    create_user(engine, "officer2", PASSWORD, "officer")
    client = app.test_client()
    token = csrf_of(client.get("/office/login").get_data(as_text=True))
    resp = client.post(
        "/office/login",
        data={
            "username": "officer2",
            "password": PASSWORD,
            "csrf": token,
            "next": "//evil.example/office",
        },
    )
    assert resp.headers["Location"] == "/office/"


def test_password_change_and_disable_end_open_sessions(app: Flask, engine: Engine) -> None:
    client = officer_client(app, engine, "officer3")
    assert client.get("/office/").status_code == 200
    set_password(engine, "officer3", "a brand new password")
    assert client.get("/office/").status_code == 302
    assert log_in(client, "officer3", "a brand new password") == 302
    assert client.get("/office/").status_code == 200
    disable_user(engine, "officer3")
    assert client.get("/office/").status_code == 302
    assert authenticate(engine, "officer3", "a brand new password") is None


def test_logout_ends_the_session(app: Flask, engine: Engine) -> None:
    client = officer_client(app, engine, "officer4")
    token = csrf_of(client.get("/office/").get_data(as_text=True))
    assert client.post("/office/logout", data={"csrf": token}).status_code == 302
    assert client.get("/office/").status_code == 302


def test_passwords_are_stored_hashed_and_rules_hold(engine: Engine) -> None:
    create_user(engine, "admin1", PASSWORD, "admin")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    with pytest.raises(AccountError, match="at least 10"):
        create_user(engine, "short1", "short", "officer")
    with pytest.raises(AccountError, match="role"):
        create_user(engine, "boss1", PASSWORD, "king")
    with pytest.raises(AccountError, match="already exists"):
        create_user(engine, "admin1", PASSWORD, "admin")


def test_no_secret_key_is_built_in(tmp_path: Path, engine: Engine, device: str) -> None:
    """Two servers with their own data folders sign sessions with different generated keys."""
    a = make_app(engine, tmp_path / "a")
    b = make_app(engine, tmp_path / "b")
    assert a.secret_key and b.secret_key and a.secret_key != b.secret_key
    assert (tmp_path / "a" / "web-secret-key").stat().st_mode & 0o077 == 0
    # The same folder keeps its key across restarts (sessions survive a restart).
    assert make_app(engine, tmp_path / "a").secret_key == a.secret_key


def test_add_user_cli_never_has_a_default_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ocop_cli.main import main

    conf = tmp_path / "server.toml"
    conf.write_text(f'data_dir = "{tmp_path / "srv"}"\n', encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    # No terminal and no password source: refused, no account made.
    with pytest.raises(SystemExit, match="no terminal"):
        main(["server", "--config", str(conf), "add-user", "boss", "--role", "admin"])
    secret = tmp_path / "admin-password"
    code = main(
        [
            "server",
            "--config",
            str(conf),
            "add-user",
            "boss",
            "--role",
            "admin",
            "--generate-to",
            str(secret),
        ]
    )
    assert code == 0
    password = secret.read_text(encoding="utf-8").strip()
    assert len(password) >= 10 and secret.stat().st_mode & 0o077 == 0
    assert password not in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("typed by a script 123\n"))
    assert (
        main(
            [
                "server",
                "--config",
                str(conf),
                "add-user",
                "clerk",
                "--role",
                "officer",
                "--password-stdin",
            ]
        )
        == 0
    )
    from sync_server.config import load_config
    from sync_server.service import open_server_engine

    eng = open_server_engine(load_config(conf))
    assert authenticate(eng, "boss", password) is not None
    assert authenticate(eng, "clerk", "typed by a script 123") is not None
    eng.dispose()


def test_only_admins_manage_accounts(app: Flask, engine: Engine) -> None:
    officer = officer_client(app, engine, "officer5")
    token = csrf_of(officer.get("/office/").get_data(as_text=True))
    assert "/office/users" not in officer.get("/office/").get_data(as_text=True)
    assert officer.get("/office/users").status_code == 403
    new = {"csrf": token, "username": "sneaky", "role": "admin", "password": PASSWORD}
    assert officer.post("/office/users", data=new).status_code == 403
    assert authenticate(engine, "sneaky", PASSWORD) is None

    create_user(engine, "boss1", PASSWORD, "admin")
    admin = app.test_client()
    assert log_in(admin, "boss1") == 302
    page = admin.get("/office/users").get_data(as_text=True)
    assert 'data-user="officer5"' in page
    token = csrf_of(page)
    made = {"csrf": token, "username": "clerk2", "role": "officer", "password": PASSWORD}
    assert admin.post("/office/users", data=made).status_code == 302
    assert authenticate(engine, "clerk2", PASSWORD) is not None
    short = {**made, "username": "clerk3", "password": "short"}
    resp = admin.post("/office/users", data=short)
    assert resp.status_code == 400 and "at least 10" in resp.get_data(as_text=True)
    assert admin.post("/office/users/boss1/disable", data={"csrf": token}).status_code == 400
    assert admin.post("/office/users/officer5/disable", data={"csrf": token}).status_code == 302
    assert officer.get("/office/").status_code == 302  # its session ended


def test_office_pages_forbid_framing_and_foreign_scripts(
    engine: Engine, device: str, tmp_path: Path
) -> None:
    from sync_server.config import OfficeConfig

    tiles = OfficeConfig(tile_url="https://tiles.example.vn/{z}/{x}/{y}.png")
    app = make_app(engine, tmp_path, office=tiles)
    resp = officer_client(app, engine).get("/office/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "img-src 'self' data: https://tiles.example.vn;" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
