"""The touchscreen's texts come from its catalogs; its dates and numbers follow the language."""

from __future__ import annotations

from datetime import datetime

from edge_agent.numbers import format_number
from edge_agent.web.display import VN_TZ, long_time, short_time, vn_date
from edge_agent.web.i18n import RUNTIME_IDS, translate, translate_plural


def test_texts_in_both_languages_with_their_parameters() -> None:
    assert translate("save", "vi") == "Lưu"
    assert translate("save", "en") == "Save"
    assert translate("err_copies_invalid", "vi", max=50) == "Số nhãn phải từ 1 đến 50."
    assert translate("err_copies_invalid", "en", max=50) == "Copies: 1 to 50."
    assert translate("no_such_key", "en") == "no_such_key"


def test_a_count_takes_the_plural_form_of_the_language() -> None:
    at = "09:15"
    assert translate_plural("done_info", "done_info_plural", 1, "vi", at=at) == "1 lần · 09:15"
    assert translate_plural("done_info", "done_info_plural", 3, "vi", at=at) == "3 lần · 09:15"
    assert translate_plural("done_info", "done_info_plural", 1, "en", at=at) == "1× · 09:15"
    assert translate_plural("done_info", "done_info_plural", 3, "en", at=at) == "3× · 09:15"


def test_run_time_ids_have_texts() -> None:
    for key in RUNTIME_IDS:
        assert translate(key, "vi") != key
        assert translate(key, "en") != key


def test_dates_and_numbers_per_language() -> None:
    assert vn_date("2026-12-05", "vi") == vn_date("2026-12-05", "en") == "05/12/2026"
    assert vn_date("not a date") == "not a date"
    assert long_time("2026-12-04T07:05:00+00:00", "en") == "04/12/2026 14:05"
    now = datetime(2026, 12, 4, 20, 0, tzinfo=VN_TZ)
    assert short_time("2026-12-04T07:05:00+00:00", now) == "14:05"
    assert short_time("2026-12-03T07:05:00+00:00", now) == "03/12/2026 14:05"
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_number(1234.5, "en") == "1,234.5"
