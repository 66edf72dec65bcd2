"""The server pages' catalogs in use (issue 14, item 5): texts, plural forms, and numbers and
dates written the way of the page's language (vi ``1.234,5``, en ``1,234.5``, ``dd/MM/yyyy``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, render_template, render_template_string
from sqlalchemy import Engine

from sync_server.web.i18n import number, translate, vndate, vntime
from tests.unit.server.consumer import make_app

BATCH = {
    "dev_id": "dev-1",
    "batch_id": "b1",
    "lot": "KC-NM-261122-01",
    "product": {"name": {"vi": "Gạo Ngọc Mầm"}},
    "facility": {"name": "HTX KC"},
    "production_date": "2026-11-22",
    "status": "closed",
    "quantity": 1234.5,
    "unit": "kg",
}


@pytest.fixture
def app(tmp_path: Path, engine: Engine) -> Flask:
    return make_app(tmp_path, engine)


def test_numbers_and_dates_follow_the_page_language(app: Flask) -> None:
    with app.test_request_context("/?lang=vi"):
        assert (number(1234.5), number(3), number(None)) == ("1.234,5", "3", "")
        assert vndate("2026-11-22") == "22/11/2026"
        assert vntime("2026-11-22T07:05:00+00:00") == "22/11/2026 14:05"  # in Vietnam time
        assert (vndate("not a date"), vntime(None)) == ("not a date", "")
    with app.test_request_context("/?lang=en"):
        assert number(1234.5) == "1,234.5"
        assert vndate(1795000000.0) == "18/11/2026"  # a server timestamp's Vietnam day


def test_texts_come_from_the_catalog_and_an_unknown_id_is_itself(app: Flask) -> None:
    with app.test_request_context("/"):
        assert translate("office_title") == "Văn phòng OCOP"
        assert translate("valid_until", date="15/11/2027") == "Còn hiệu lực đến 15/11/2027"
        # _alerts.html shows an alert kind without a text by its raw name.
        assert translate("alert_no_such_kind") == "alert_no_such_kind"
        assert translate("alert_forged_traffic") == "Lưu lượng giả mạo trên kênh của thiết bị"
    with app.test_request_context("/?lang=en"):
        assert translate("office_title") == "OCOP office"


@pytest.mark.parametrize(
    ("lang", "stars", "shown"),
    [
        ("vi", 1, "1 sao OCOP"),
        ("vi", 4, "4 sao OCOP"),
        ("en", 1, "1 OCOP star"),
        ("en", 4, "4 OCOP stars"),
    ],
)
def test_stars_take_the_plural_form_of_each_language(
    app: Flask, lang: str, stars: int, shown: str
) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        html = render_template_string("{% include '_stars.html' %}", stars=stars)
    assert f'aria-label="{shown}"' in html and html.rstrip().endswith(f" {shown}</p>")


def test_office_batch_rows_show_quantities_and_status_in_the_page_language(app: Flask) -> None:
    with app.test_request_context("/office/search"):
        vi = render_template("office/_batch_rows.html", batches=[BATCH])
    with app.test_request_context("/office/search?lang=en"):
        en = render_template("office/_batch_rows.html", batches=[BATCH])
    assert "1.234,5 kg" in vi and "Đã đóng lô" in vi and "22/11/2026" in vi
    assert "1,234.5 kg" in en and "Closed" in en and "22/11/2026" in en
