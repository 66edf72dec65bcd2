"""A Flask test client for the office: an app on the test database, and a logged-in session."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.accounts import create_user
from sync_server.config import ServerConfig
from sync_server.web import create_app

PASSWORD = "mật-khẩu-thử-0001"


def make_app(engine: Engine, data_dir: Path, **overrides: object) -> Flask:
    config = ServerConfig(data_dir=data_dir, **overrides)  # type: ignore[arg-type]
    return create_app(config, engine)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    token = csrf_of(client.get("/office/login").get_data(as_text=True))
    resp = client.post(
        "/office/login", data={"username": username, "password": password, "csrf": token}
    )
    return resp.status_code


def officer_client(app: Flask, engine: Engine, username: str = "officer1") -> FlaskClient:
    create_user(engine, username, PASSWORD, "officer")
    client = app.test_client()
    assert log_in(client, username) == 302
    return client
