"""Touchscreen forms act once per rendering (issue 13: two taps 80 ms apart printed twice)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from edge_agent.agent import Agent, open_agent
from edge_agent.config import load_config
from edge_agent.web import create_app
from tests.unit.edge.conftest import CATALOG
from trace_protocol.catalog import parse_catalog
from trace_protocol.workers import hash_pin


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    path = tmp_path / "edge.toml"
    path.write_text(f'device_id = "kc-x"\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    agent = open_agent(load_config(path), with_sync=False)
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    agent.accept_catalog(parse_catalog({**obj, "version": 1, "public_base_url": "http://x"}))
    return agent


def _hidden(html: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, action
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def _count(agent: Agent, sql: str) -> int:
    return int(agent.journal.store.writer.conn.execute(sql).fetchone()[0])


def test_a_form_submitted_twice_writes_once_and_answers_the_same(agent: Agent) -> None:
    client: FlaskClient = create_app(agent).test_client()
    form = _hidden(client.get("/batches/new?product=NM").get_data(as_text=True), "/batches")
    assert form["form_token"] and form["product"] == "NM"
    first = client.post("/batches", data=form)
    again = client.post("/batches", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert _count(agent, "SELECT COUNT(*) FROM batches") == 1
    # A new rendering is a new form.
    form = _hidden(client.get("/batches/new?product=NM").get_data(as_text=True), "/batches")
    assert client.post("/batches", data=form).status_code == 303
    assert _count(agent, "SELECT COUNT(*) FROM batches") == 2
    # The token is kept with the event, in the journal database: a restart remembers it.
    assert _count(agent, "SELECT COUNT(*) FROM form_tokens") == 2


def test_a_refused_form_can_be_corrected_and_sent_once(agent: Agent) -> None:
    client = create_app(agent).test_client()
    form = _hidden(client.get("/batches/new?product=NM").get_data(as_text=True), "/batches")
    batch = client.post("/batches", data=form).headers["Location"]
    page = client.get(f"{batch}?step=NHAP").get_data(as_text=True)
    step = _hidden(page, f"{batch}/steps")
    bad = client.post(f"{batch}/steps", data={**step, "v_do_am": "14.5", "v_khoi_luong": "1"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and 'value="14.5"' in html
    fixed = _hidden(html, f"{batch}/steps")
    good = {**fixed, "v_do_am": "14,5", "v_khoi_luong": "1.500"}
    assert client.post(f"{batch}/steps", data=good).status_code == 303
    assert client.post(f"{batch}/steps", data=good).status_code == 303
    rows = agent.journal.store.writer.conn.execute("SELECT measured FROM steps").fetchall()
    assert [json.loads(m) for (m,) in rows] == [{"do_am": 14.5, "khoi_luong": 1500.0}]


def test_print_progress_polling_does_not_keep_a_worker_signed_in(tmp_path: Path) -> None:
    """print.js asks for the jobs every few seconds; that is not a tap (issue 13)."""
    path = tmp_path / "edge.toml"
    path.write_text(
        f'device_id = "kc-x"\ndata_dir = "{tmp_path / "data"}"\n[ui]\nworker_idle_min = 1\n',
        encoding="utf-8",
    )
    agent = open_agent(load_config(path), with_sync=False)
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    lan = {"id": "lan", "name": "Nguyễn Thị Lan", "pin": hash_pin("2468", iterations=10_000)}
    agent.accept_catalog(
        parse_catalog({**obj, "version": 1, "public_base_url": "http://x", "workers": [lan]})
    )
    client = create_app(agent).test_client()
    form = _hidden(client.get("/login?w=lan").get_data(as_text=True), "/login")
    assert client.post("/login", data={**form, "pin": "2468"}).status_code == 303
    with client.session_transaction() as s:
        s["seen"] = seen = int(time.time()) - 50
    assert client.get("/batches/x/jobs").status_code == 200
    with client.session_transaction() as s:
        assert s["seen"] == seen
    assert client.get("/").status_code == 200  # a page the worker opens does count
    with client.session_transaction() as s:
        assert s["seen"] > seen
