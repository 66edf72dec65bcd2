"""The touchscreen names supply units in the page's language (``cai`` → ``cái`` / ``pcs``) on
every page a worker meets them; the journal keeps the codes (issue 15 review)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from edge_agent.agent import Agent, open_agent
from edge_agent.config import load_config
from edge_agent.web import create_app
from edge_agent.web.display import UNIT_NAMES, unit_name
from tests.unit.edge.supply_catalog import MATERIALS, supply_catalog_obj
from trace_protocol.catalog import parse_catalog
from trace_protocol.supply import UNITS

BAGS = {"code": "BAO", "name": {"vi": "Bao bì", "en": "Bags"}, "unit": "cai"}
NHAP = {"step": "NHAP", "v_do_am": "14,5", "v_khoi_luong": "1000", "note": ""}
BARE_CODE = re.compile(r"\bcai\b")


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    path = tmp_path / "edge.toml"
    path.write_text(f'device_id = "kc-u"\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    agent = open_agent(load_config(path), with_sync=False)
    obj = supply_catalog_obj(1)
    obj["products"][0]["materials"] = [*MATERIALS, BAGS]
    obj["products"][0]["unit"] = "hũ"  # a product's unit is free text, usually Vietnamese
    agent.accept_catalog(parse_catalog(obj))
    return agent


def _hidden(html: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, action
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def _submit(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> str:
    """Fill the form of ``page`` and send it; the answer's Location, or its page when refused."""
    form = _hidden(client.get(page).get_data(as_text=True), action)
    answer = client.post(action, data={**form, **data})
    assert answer.status_code in (303, 409), answer.get_data(as_text=True)
    return answer.headers.get("Location") or answer.get_data(as_text=True)


def _page(client: FlaskClient, path: str, lang: str) -> str:
    client.set_cookie("lang", lang)
    answer = client.get(path)
    assert answer.status_code == 200, path
    html = answer.get_data(as_text=True)
    assert not BARE_CODE.search(html), f"{path} ({lang}) shows the code 'cai'"
    return html


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_supply_unit_has_a_name_in_both_languages() -> None:
    assert set(UNIT_NAMES) == set(UNITS)
    for code in UNITS:
        for lang in ("vi", "en"):
            assert unit_name(code, lang) and unit_name(code, lang) != UNIT_NAMES[code]
    assert (unit_name("cai", "vi"), unit_name("cai", "en")) == ("cái", "pcs")
    assert (unit_name("hũ", "en"), unit_name("l", "vi"), unit_name("°C", "en")) == (
        "jars",
        "lít",
        "°C",
    )


def test_a_receipt_in_cai_reads_cai_in_vietnamese_and_pcs_in_english(agent: Agent) -> None:
    client = create_app(agent).test_client()
    form = _page(client, "/receipts/new", "vi")
    assert re.search(r"<strong>Bao bì</strong><span>cái</span>", form)
    assert re.search(r"<strong>Bags</strong><span>pcs</span>", _page(client, "/receipts/new", "en"))

    client.set_cookie("lang", "vi")
    saved = _submit(
        client,
        "/receipts/new",
        "/receipts",
        {"supplier": "THT", "material": "BAO", "quantity": "1.500"},
    )
    assert saved.startswith("/receipts?saved=")
    ((unit,),) = agent.journal.store.writer.conn.execute("SELECT unit FROM receipts").fetchall()
    assert unit == "cai"  # stored data keeps the code

    assert "1.500 cái" in _text(_page(client, "/receipts", "vi"))
    assert "Left: 1,500 pcs" in _text(_page(client, "/receipts", "en"))

    batch = _submit(client, "/batches/new?product=NM", "/batches", {"product": "NM"})
    assert "1.500 cái" in _text(_page(client, f"{batch}/inputs", "vi"))
    assert "1,500 pcs" in _text(_page(client, f"{batch}/inputs", "en"))
    (receipt,) = re.findall(
        r'name="receipt" value="([^"]+)"', _page(client, f"{batch}/inputs", "en")
    )

    # Using more than is left: the confirmation says how much, in the page's words.
    client.set_cookie("lang", "en")
    over = _submit(
        client, f"{batch}/inputs", f"{batch}/inputs", {"receipt": receipt, "quantity": "2000"}
    )
    assert "Only 1,500 pcs left." in over and not BARE_CODE.search(over)
    client.set_cookie("lang", "vi")
    over = _submit(
        client, f"{batch}/inputs", f"{batch}/inputs", {"receipt": receipt, "quantity": "2000"}
    )
    assert "Chỉ còn 1.500 cái." in over
    _submit(client, f"{batch}/inputs", f"{batch}/inputs", {"receipt": receipt, "quantity": "200"})

    assert re.search(r"Bao bì · KC-NL-\S+ · 200 cái", _text(_page(client, batch, "vi")))
    assert re.search(r"KC-NL-\S+ · 200 pcs", _text(_page(client, batch, "en")))

    # The receipt's correction form and its refusal below what was used.
    seq = re.search(r"/records/(\d+)/correct", _page(client, "/receipts", "vi"))
    assert seq
    correct = f"/records/{seq.group(1)}/correct"
    assert "(cái)" in _page(client, correct, "vi") and "(pcs)" in _page(client, correct, "en")
    client.set_cookie("lang", "en")
    below = _submit(client, correct, correct, {"quantity": "100", "reason": "typo"})
    assert "200 pcs already used or shipped" in below and not BARE_CODE.search(below)


def test_a_product_counted_in_hu_reads_jars_in_english_when_closed_and_shipped(
    agent: Agent,
) -> None:
    client = create_app(agent).test_client()
    client.set_cookie("lang", "vi")
    batch = _submit(client, "/batches/new?product=NM", "/batches", {"product": "NM"})
    _submit(client, f"{batch}?step=NHAP", f"{batch}/steps", NHAP)
    assert 'data-unit="hũ"' in _page(client, f"{batch}/close", "vi")
    assert 'data-unit="jars"' in _page(client, f"{batch}/close", "en")
    _submit(client, f"{batch}/close", f"{batch}/close", {"quantity": "800"})

    assert "800 hũ" in _text(_page(client, batch, "vi"))
    assert "800 jars" in _text(_page(client, batch, "en"))
    assert "còn 800 hũ chưa xuất" in _text(_page(client, f"{batch}/ship", "vi"))
    assert "800 jars not shipped yet" in _text(_page(client, f"{batch}/ship", "en"))
    client.set_cookie("lang", "vi")
    ship = {"customer": "OCOP1", "quantity": "100", "day": "", "note": ""}
    _submit(client, f"{batch}/ship", f"{batch}/shipments", ship)
    assert "100 jars" in _text(_page(client, batch, "en"))
    assert "800 jars" in _text(_page(client, "/", "en"))  # the home page's closed tile
