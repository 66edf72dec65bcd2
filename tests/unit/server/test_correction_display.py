"""How the pages show a correction, a void and a unit (issue 15 review): only the fields a
correction actually changed, each with its label and old → new value written like the rest of
the page (consumer page, office journal); a voided batch never "in production"; supply units by
their name (``cai`` → ``cái``/``pcs``); the trace page's supplier columns labelled for what they
hold. Events go through ingest as the edge sends them: a correction resends every field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.ingest.commit import ingest_chunks
from sync_server.web.describe import UNIT_NAMES, unit_name
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.bodies import opened_body, step_body
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import make_app, officer_client
from tests.unit.server.supply_chain import added, corrected, received, uid
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.messages import encode_chunk
from trace_protocol.supply import UNITS

LOT, VOID_LOT, RECEIPT_LOT = "KC-NM-240301-01", "KC-NM-240301-02", "KC-NL-240301-01"


@pytest.fixture
def ids(engine: Engine, device: str, chain: ChainBuilder) -> dict[str, str]:
    ids = {"r": uid(), "ba": uid(), "bv": uid()}
    receipt = chain.next(se.INPUT_RECEIVED, received(ids["r"], RECEIPT_LOT, 1000, unit="cai"))
    chain.next(ev.BATCH_OPENED, opened_body(ids["ba"], LOT))
    use = chain.next(se.INPUT_ADDED, added(ids["ba"], ids["r"], RECEIPT_LOT, 600, "cai"))
    step = chain.next(ev.STEP_RECORDED, step_body(ids["ba"], value=45.0))
    close = chain.next(
        ev.BATCH_CLOSED,
        {"batch": ids["ba"], "quantity": 600, "unit": "cai", "expiry_date": "2025-03-01"},
    )
    # The touchscreen's form comes filled with the current values: every field is resent.
    chain.next(
        se.RECORD_CORRECTED,
        corrected(
            receipt, "đếm lại", quantity=1100, supplier_lot="TD-03", received_on="2024-03-01"
        ),
    )
    chain.next(se.RECORD_CORRECTED, corrected(use, "bấm nhầm", quantity=600))
    chain.next(
        se.RECORD_CORRECTED,
        corrected(step, "đọc nhầm", values={"nhiet_do": 43.5}, note="ghi chú riêng"),
    )
    chain.next(
        se.RECORD_CORRECTED,
        corrected(close, "cân lại", quantity=1234.5, expiry_date="2025-03-01"),
    )
    # The second correction of the close: the quantity is what the first one set, not a change.
    chain.next(
        se.RECORD_CORRECTED,
        corrected(close, "in nhầm hạn", quantity=1234.5, expiry_date="2025-04-01"),
    )
    chain.next(ev.BATCH_OPENED, opened_body(ids["bv"], VOID_LOT))
    chain.next(se.BATCH_VOIDED, {"batch": ids["bv"], "reason": "mở nhầm"})
    ack = ingest_chunks(engine, [(DEV, encode_chunk(DEV, chain.events))])[0].ack
    assert ack is not None and ack.error is None and ack.upto == len(chain.events)
    return ids


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> FlaskClient:
    return officer_client(make_app(engine, tmp_path), engine)


def _fix_lines(html: str) -> dict[str, str]:
    """Each correction line of a consumer page by its reason."""
    lines = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r'<p class="fix">(.*?)</p>', html)]
    return {re.search(r"(?:vì|because) ([^:]+?)(?::|$)", t).group(1): t for t in lines}  # type: ignore[union-attr]


def test_the_consumer_page_shows_only_what_changed_in_words(
    client: FlaskClient, ids: dict[str, str]
) -> None:
    html = client.get(f"/l/{LOT}").get_data(as_text=True)
    fixes = _fix_lines(html)
    assert fixes["đọc nhầm"].endswith(": Nhiệt độ sấy 45 °C → 43,5 °C"), fixes
    assert fixes["cân lại"].endswith(": Sản lượng lô 600 cái → 1.234,5 cái"), fixes
    assert fixes["in nhầm hạn"].endswith(": Hạn sử dụng 01/03/2025 → 01/04/2025"), fixes
    assert fixes["bấm nhầm"].endswith("vì bấm nhầm"), fixes  # nothing differed
    text = " ".join(fixes.values())
    for raw in ("quantity", "expiry_date", "nhiet_do", "ghi chú riêng", "2025-0"):
        assert raw not in text
    assert "1.234,5 cái" in html and "600 cai" not in html
    english = _fix_lines(client.get(f"/l/{LOT}?lang=en").get_data(as_text=True))
    assert english["đọc nhầm"].endswith(": Drying temperature 45 °C → 43.5 °C"), english
    assert english["cân lại"].endswith(": Batch output 600 pcs → 1,234.5 pcs"), english
    assert english["in nhầm hạn"].endswith(": Best before 01/03/2025 → 01/04/2025"), english


def _change_tables(html: str) -> dict[str, list[tuple[str, ...]]]:
    """The changed-fields table of each record.corrected row of a journal, by its reason."""
    out = {}
    for row in html.split('<tr id="e')[1:]:
        if "record.corrected" not in row.split("</td>", 3)[2]:
            continue
        reason = re.search(r"<dd>([^<]+)</dd></dl>", row)
        assert reason is not None, row
        table = row.split('<table class="changes">', 1)[1].split("</table>", 1)[0]
        out[reason.group(1)] = [
            tuple(re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r))
            for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
        ]
    return out


def test_the_office_journal_shows_a_correction_as_a_table_of_changes(
    client: FlaskClient, ids: dict[str, str]
) -> None:
    page = client.get(f"/office/batches/{DEV}/{ids['ba']}").get_data(as_text=True)
    tables = _change_tables(page)
    assert tables["đọc nhầm"] == [
        ("Nhiệt độ sấy", "45 °C", "43,5 °C"),
        ("Ghi chú", "—", "ghi chú riêng"),
    ]
    assert tables["cân lại"] == [("Sản lượng lô", "600 cái", "1.234,5 cái")]
    assert tables["in nhầm hạn"] == [("Hạn sử dụng", "01/03/2025", "01/04/2025")]
    assert tables["bấm nhầm"] == [("Không giá trị nào khác trước",)]
    assert "{&#34;" not in page and '{"' not in page  # no raw JSON
    device = client.get(f"/office/devices/{DEV}?lang=en").get_data(as_text=True)
    assert _change_tables(device)["đếm lại"] == [("Quantity received", "1,000 pcs", "1,100 pcs")]


def test_a_voided_batch_never_says_in_production(client: FlaskClient, ids: dict[str, str]) -> None:
    html = client.get(f"/l/{VOID_LOT}").get_data(as_text=True)
    assert 'id="voided"' in html and "mở nhầm" in html
    assert "đang sản xuất" not in html
    assert "in production" not in client.get(f"/l/{VOID_LOT}?lang=en").get_data(as_text=True)
    home = client.get("/?lang=vi").get_data(as_text=True)
    listed = home.split(f"{VOID_LOT}</a>", 1)[1].split("</li>", 1)[0]
    assert "Đã hủy" in listed and "đang sản xuất" not in listed


def test_units_show_by_name_on_office_and_trace_pages(
    client: FlaskClient, ids: dict[str, str]
) -> None:
    rows = client.get("/office/search?q=KC-NM").get_data(as_text=True)
    assert "1.234,5 cái" in rows
    trace = client.get(f"/office/trace?lot={LOT}").get_data(as_text=True)
    assert "Lúa Ngọc Mầm · 1.100 cái" in trace and "Gạo Ngọc Mầm · 1.234,5 cái" in trace
    suppliers = trace.split('<table class="suppliers">', 1)[1].split("</table>", 1)[0]
    headers = re.findall(r"<th>(.*?)</th>", suppliers)
    assert "Địa chỉ nhà cung cấp" in headers and "Cơ sở nhận" in headers
    assert "Nơi quét (mã hóa)" not in trace
    assert "01/03/2024" in suppliers and "2024-03-01" not in suppliers
    english = client.get(f"/office/trace?lot={LOT}&lang=en").get_data(as_text=True)
    assert "1,100 pcs" in english and "Place (hashed)" not in english


def test_every_supply_unit_has_a_name_in_both_languages() -> None:
    assert set(UNIT_NAMES) == set(UNITS)
    assert (unit_name("cai", "vi"), unit_name("cai", "en")) == ("cái", "pcs")
    assert (unit_name("hu", "vi"), unit_name("hũ", "en")) == ("hũ", "jars")
    assert (unit_name("°C", "en"), unit_name("túi", "en"), unit_name(None, "vi")) == (
        "°C",
        "túi",
        "",
    )


def test_a_steps_time_units_are_named_in_the_pages_language() -> None:
    """A catalog writes a step's unit in Vietnamese ("Số ngày ngâm: 30 ngày"): the English page
    says "30 days", never the Vietnamese word."""
    assert (unit_name("ngày", "vi"), unit_name("ngày", "en")) == ("ngày", "days")
    assert (unit_name("giờ", "en"), unit_name("phút", "en")) == ("hours", "minutes")
