"""A Flask test client for the office: an app on the test database, and a logged-in session."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.accounts.users import create_user
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


class FormFields(HTMLParser):
    """What a browser would submit: every input's, textarea's and select's name and current
    value; a checkbox only when checked, a file input not at all."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            if a.get("type") == "file" or (a.get("type") == "checkbox" and "checked" not in a):
                return
            self.fields[str(a["name"])] = a.get("value") or ""
        elif tag == "textarea" and a.get("name"):
            self._textarea = str(a["name"])
            self.fields[self._textarea] = ""
        elif tag == "select" and a.get("name"):
            self._select = str(a["name"])
        elif (
            tag == "option"
            and self._select
            and (self._select not in self.fields or "selected" in a)
        ):
            # The first option unless one is selected, as a browser submits.
            self.fields[self._select] = a.get("value") or ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def product_form(client: FlaskClient) -> dict[str, str]:
    """The fields of the office's product form for KC's NM, as a browser would submit them."""
    parser = FormFields()
    parser.feed(client.get("/office/catalog/KC/NM").get_data(as_text=True))
    parser.fields.pop("q", None)  # the header's search box is another form
    return parser.fields


def page_form(client: FlaskClient, path: str) -> dict[str, str]:
    """The fields of the office form at ``path``, as a browser would submit them."""
    parser = FormFields()
    parser.feed(client.get(path).get_data(as_text=True))
    parser.fields.pop("q", None)  # the header's search box is another form
    return parser.fields
