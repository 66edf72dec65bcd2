"""The office's "Truy xuất" page and its shipments CSV, through the Flask test client."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.unit.server.office_client import make_app, officer_client
from tests.unit.server.trace_rows import (
    BK_IN,
    BK_OUT,
    HTX_IN,
    KC_IN,
    KC_OUT,
    KC_VOID,
    SUPPLIER_LOT,
    Chain,
    seed_chain,
)


@pytest.fixture
def chain(engine: Engine) -> Chain:
    with engine.begin() as conn:
        return seed_chain(conn)


@pytest.fixture
def client(engine: Engine, tmp_path: Path, chain: Chain) -> FlaskClient:
    return officer_client(make_app(engine, tmp_path), engine)


class Nesting(HTMLParser):
    """Each list item's lot and the lot of the item it is nested in ("" at the top)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.parent: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            lot = dict(attrs).get("data-lot") or ""
            self.parent[lot] = self.stack[-1] if self.stack else ""
            self.stack.append(lot)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self.stack.pop()


def parents(html: str) -> dict[str, str]:
    nesting = Nesting()
    nesting.feed(html)
    return nesting.parent


def section(html: str, name: str) -> str:
    found = re.search(rf'<section class="card" id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no {name} section"
    return found.group(1)


def test_nav_and_empty_form(client: FlaskClient) -> None:
    html = client.get("/office/trace").get_data(as_text=True)
    assert '<a href="/office/trace">Truy xuất</a>' in html
    assert 'name="lot"' in html and 'name="supplier"' in html
    assert 'id="backward"' not in html


def test_backward_and_forward_as_nested_lists(client: FlaskClient, chain: Chain) -> None:
    resp = client.get(f"/office/trace?lot={KC_OUT}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    back, forward = section(html, "backward"), section(html, "forward")
    # Backward: KC_OUT ⊃ KC_IN ⊃ S01's lot, nested.
    assert parents(back) == {KC_OUT: "", KC_IN: KC_OUT, f"S01/{SUPPLIER_LOT}": KC_IN}
    assert "Tổ hợp tác S01" in back  # the suppliers table
    # Forward: KC_OUT ⊃ BK_IN ⊃ BK_OUT: another facility's receipt of KC's label.
    assert parents(forward) == {KC_OUT: "", BK_IN: KC_OUT, BK_OUT: BK_IN}
    assert f'href="/office/batches/kc-1/{chain.kc_batch}"' in html
    assert f'href="/office/batches/bk-1/{chain.bk_batch}"' in html
    for customer in ("C01", "C02", "C09"):
        assert f"Cửa hàng OCOP {customer}" in forward
    assert "C05" not in forward  # HTX's batch came from the same supplier lot, not from KC_OUT
    assert f"/office/trace/shipments.csv?lot={KC_OUT}" in forward


def test_a_voided_batch_is_marked(client: FlaskClient) -> None:
    html = client.get(f"/office/trace?lot={KC_IN}").get_data(as_text=True)
    item = re.search(rf'<li data-lot="{KC_VOID}">(.*?)</li>', section(html, "forward"), re.S)
    assert item and "Đã hủy" in item.group(1)
    html = client.get(f"/office/trace?lot={KC_IN}&lang=en").get_data(as_text=True)
    assert "Voided" in html and "Forward" in html


def test_supplier_lot_with_and_without_supplier(client: FlaskClient) -> None:
    both = client.get(f"/office/trace?lot={SUPPLIER_LOT}").get_data(as_text=True)
    assert f'data-lot="S07/{SUPPLIER_LOT}"' in both and f'data-lot="S01/{SUPPLIER_LOT}"' in both
    one = client.get(f"/office/trace?lot={SUPPLIER_LOT}&supplier=S01").get_data(as_text=True)
    assert f'data-lot="S07/{SUPPLIER_LOT}"' not in one
    assert f'data-lot="{HTX_IN}"' in section(one, "forward")


def test_bad_input_gets_a_message_next_to_its_field(client: FlaskClient) -> None:
    html = client.get("/office/trace?lot=KHONG-CO-LO-NAY").get_data(as_text=True)
    assert re.search(
        r'name="lot" value="KHONG-CO-LO-NAY".*?<span class="error" id="lot-error"', html, re.S
    )
    assert "Không tìm thấy lô" in html
    assert 'id="backward"' not in html
    html = client.get("/office/trace?lot=" + "X" * 41).get_data(as_text=True)
    assert 'id="lot-error"' in html and "40" in html
    html = client.get(f"/office/trace?lot={KC_OUT}&supplier=" + "S" * 17).get_data(as_text=True)
    assert 'id="supplier-error"' in html and 'id="backward"' not in html
    html = client.get("/office/trace?lot=&supplier=S01").get_data(as_text=True)
    assert 'id="lot-error"' in html


def test_shipments_csv(client: FlaskClient) -> None:
    resp = client.get(f"/office/trace/shipments.csv?lot={SUPPLIER_LOT}&supplier=S01")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert f"shipments-{SUPPLIER_LOT}-" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert sorted(r["customer_id"] for r in rows) == ["C01", "C02", "C05", "C09"]
    c09 = next(r for r in rows if r["customer_id"] == "C09")
    assert (c09["lot"], c09["facility"], c09["phone"], c09["quantity"]) == (
        BK_OUT,
        "BK",
        "0912 345 678",
        "20.0",
    )
    assert client.get("/office/trace/shipments.csv?lot=NOPE").status_code == 404
    assert client.get("/office/trace/shipments.csv").status_code == 400


def test_the_batch_page_links_to_its_trace(client: FlaskClient, chain: Chain) -> None:
    html = client.get(f"/office/batches/bk-1/{chain.bk_batch}").get_data(as_text=True)
    assert f'<a href="/office/trace?lot={BK_OUT}">{BK_OUT}</a>' in html


def test_login_required(engine: Engine, tmp_path: Path) -> None:
    anonymous = make_app(engine, tmp_path).test_client()
    resp = anonymous.get(f"/office/trace?lot={KC_OUT}")
    assert resp.status_code == 302 and "/office/login" in resp.headers["Location"]
    assert anonymous.get(f"/office/trace/shipments.csv?lot={KC_OUT}").status_code == 302
