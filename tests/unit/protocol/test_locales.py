"""trace_protocol.locales: catalogs compiled in memory, vi/en formats, completeness gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from trace_protocol.locales import (
    LOCALES,
    format_date,
    format_datetime,
    format_decimal,
    load_translations,
    missing_translations,
)

_HEADERS = {
    "vi": "nplurals=1; plural=0;",
    "en": "nplurals=2; plural=(n != 1);",
}


def _write_po(directory: Path, locale: str, body: str) -> None:
    path = directory / locale / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        'msgid ""\nmsgstr ""\n'
        '"Content-Type: text/plain; charset=UTF-8\\n"\n'
        f'"Language: {locale}\\n"\n'
        f'"Plural-Forms: {_HEADERS[locale]}\\n"\n\n'
    )
    path.write_text(header + body, encoding="utf-8")


VI = """\
msgid "title"
msgstr "Ghi nhật ký sản xuất"

msgid "batches_n"
msgid_plural "batches_n_plural"
msgstr[0] "{n} lô"

msgid "pin_locked"
msgstr "Thử lại sau {s} giây."
"""

EN = """\
msgid "title"
msgstr "Production log"

msgid "batches_n"
msgid_plural "batches_n_plural"
msgstr[0] "{n} batch"
msgstr[1] "{n} batches"

msgid "pin_locked"
msgstr "Try again in {s} s."
"""


@pytest.fixture
def catalogs(tmp_path: Path) -> Path:
    _write_po(tmp_path, "vi", VI)
    _write_po(tmp_path, "en", EN)
    return tmp_path


def test_vietnamese_is_the_default_locale() -> None:
    assert LOCALES == ("vi", "en")


def test_catalogs_compile_in_memory_with_plural_forms(catalogs: Path) -> None:
    loaded = load_translations(catalogs)
    assert set(loaded) == {"vi", "en"}
    assert loaded["vi"].gettext("title") == "Ghi nhật ký sản xuất"
    assert loaded["en"].gettext("title") == "Production log"
    assert [loaded["vi"].ngettext("batches_n", "batches_n_plural", n) for n in (1, 3)] == [
        "{n} lô",
        "{n} lô",
    ]
    assert [loaded["en"].ngettext("batches_n", "batches_n_plural", n) for n in (0, 1, 3)] == [
        "{n} batches",
        "{n} batch",
        "{n} batches",
    ]
    # An unknown id comes back as itself, as the dict lookups did.
    assert loaded["en"].gettext("no_such_key") == "no_such_key"
    assert not list(catalogs.rglob("*.mo"))


def test_fuzzy_entries_are_not_used(tmp_path: Path) -> None:
    _write_po(tmp_path, "vi", VI)
    _write_po(tmp_path, "en", EN.replace('msgid "title"', '#, fuzzy\nmsgid "title"'))
    assert load_translations(tmp_path)["en"].gettext("title") == "title"


def test_a_missing_catalog_is_named(tmp_path: Path) -> None:
    _write_po(tmp_path, "vi", VI)
    with pytest.raises(FileNotFoundError, match=r"'en'.*en/LC_MESSAGES/messages\.po"):
        load_translations(tmp_path)
    with pytest.raises(FileNotFoundError, match="'en'"):
        missing_translations(tmp_path, ["title"])


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [
        (1234.5, "1.234,5", "1,234.5"),
        (Decimal("1234567.25"), "1.234.567,25", "1,234,567.25"),
        (12, "12", "12"),
        (-0.5, "-0,5", "-0.5"),
        (1500, "1.500", "1,500"),
        (0.1 + 0.2, "0,3", "0.3"),
        (1.000001, "1,000001", "1.000001"),
        (-0.0, "0", "0"),
        (-1e-9, "0", "0"),
    ],
)
def test_numbers_use_the_locale_separators(value: int | float | Decimal, vi: str, en: str) -> None:
    assert format_decimal(value, "vi") == vi
    assert format_decimal(value, "en") == en


def test_dates_are_day_month_year_in_both_languages() -> None:
    assert format_date(date(2026, 3, 7), "vi") == "07/03/2026"
    assert format_date(date(2026, 3, 7), "en") == "07/03/2026"
    assert format_date(datetime(2026, 12, 31, 23, 59), "vi") == "31/12/2026"


def test_datetimes_keep_the_given_time_zone() -> None:
    hanoi = timezone(timedelta(hours=7))
    assert format_datetime(datetime(2026, 3, 7, 8, 5, tzinfo=hanoi), "vi") == "07/03/2026 08:05"
    assert format_datetime(datetime(2026, 3, 7, 8, 5, tzinfo=UTC), "en") == "07/03/2026 08:05"
    assert format_datetime(datetime(2026, 3, 7, 18, 30), "en") == "07/03/2026 18:30"


def test_complete_catalogs_have_no_gaps(catalogs: Path) -> None:
    ids: list[str | tuple[str, str]] = ["title", ("batches_n", "batches_n_plural"), "pin_locked"]
    assert missing_translations(catalogs, ids) == {"vi": [], "en": []}


def test_gaps_are_listed_per_locale(tmp_path: Path) -> None:
    _write_po(tmp_path, "vi", VI.replace('msgstr "Thử lại sau {s} giây."', 'msgstr ""'))
    en = EN.replace('msgstr[1] "{n} batches"\n', "").replace(
        'msgid "title"', '#, fuzzy\nmsgid "title"'
    )
    _write_po(tmp_path, "en", en)
    ids: list[str | tuple[str, str]] = [
        "title",
        ("batches_n", "batches_n_plural"),
        "pin_locked",
        "not_in_catalog",
    ]
    assert missing_translations(tmp_path, ids) == {
        "vi": ["pin_locked", "not_in_catalog"],
        "en": ["title", "batches_n", "not_in_catalog"],
    }


def test_a_plural_id_needs_a_plural_entry(tmp_path: Path) -> None:
    _write_po(tmp_path, "vi", 'msgid "photos_left"\nmsgstr "còn ảnh"\n')
    _write_po(tmp_path, "en", 'msgid "photos_left"\nmsgstr "photos left"\n')
    assert missing_translations(tmp_path, [("photos_left", "photos_left_plural")]) == {
        "vi": ["photos_left"],
        "en": ["photos_left"],
    }
    assert missing_translations(tmp_path, ["photos_left"]) == {"vi": [], "en": []}
