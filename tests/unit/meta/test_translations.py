"""Every message id of each UI has a Vietnamese and an English text (issue 14, item 5).

The ids are extracted from the sources with Babel's own extraction API, the same mapping file
(``babel.cfg``) and the same keywords as ``make messages`` (read from the Makefile), so an id
used in a template or view but missing, empty, fuzzy or short of a plural form in ``vi`` or
``en`` fails here, listed by locale. The ``.pot`` must list what the sources use, and the
catalogs must ship in the wheel.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from trace_protocol.locales import LOCALES, load_translations, missing_translations

ROOT = Path(__file__).resolve().parents[3]

MessageId = str | tuple[str, str]


@dataclass(frozen=True)
class App:
    source: str  # the directory `make messages` extracts from, relative to the repository
    known: tuple[MessageId, ...]  # ids the extraction must find: a template's, a run-time one
    catalogs: str = ""  # where translations/ is, when not in ``source`` itself

    @property
    def translations(self) -> Path:
        return ROOT / (self.catalogs or self.source) / "translations"


APPS = {
    "edge": App(
        "edge_agent/web",
        (
            "save",
            "err_no_frame",
            "status_open",
            "err_batch_closed",
            ("done_info", "done_info_plural"),
        ),
    ),
    # The public pages and the office; the consumer-report errors are in sync_server/consumer.
    "server": App(
        "sync_server",
        (
            "save",
            "office_title",
            "state_online",
            "report_bad_phone",
            "journal_quantity",
            ("stars_count", "stars_count_plural"),
        ),
        catalogs="sync_server/web",
    ),
}


def _keywords() -> dict[str, Any]:
    """Babel's default keywords plus the Makefile's ``BABEL_KEYWORDS`` (``-k t -k tn:1,2`` …)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^BABEL_KEYWORDS\s*:?=(.*)$", makefile, re.MULTILINE)
    assert found, "the Makefile's messages target names its keywords in BABEL_KEYWORDS"
    ours = re.findall(r"-k\s+(\S+)", found.group(1))
    return {**DEFAULT_KEYWORDS, **parse_keywords(ours)}


def extracted_ids(app: App) -> list[MessageId]:
    source = ROOT / app.source
    with (source / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    ids: dict[MessageId, None] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(source), method_map, options_map, keywords=_keywords()
    ):
        if isinstance(message, tuple):
            ids[(message[0], message[1])] = None
        else:
            ids[message] = None
    return list(ids)


def _catalog_ids(path: Path) -> set[MessageId]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {m.id if isinstance(m.id, str) else (m.id[0], m.id[1]) for m in catalog if m.id}


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_message_has_a_vietnamese_and_an_english_text(name: str) -> None:
    app = APPS[name]
    ids = extracted_ids(app)
    assert set(app.known) <= set(ids), "extraction lost ids it used to find"
    assert missing_translations(app.translations, ids) == {locale: [] for locale in LOCALES}


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_template_and_catalogs_list_what_the_sources_use(name: str) -> None:
    app = APPS[name]
    used = set(extracted_ids(app))
    assert _catalog_ids(app.translations / "messages.pot") == used, "run `make messages`"
    for locale in LOCALES:
        po = app.translations / locale / "LC_MESSAGES" / "messages.po"
        assert _catalog_ids(po) == used, f"{po}: run `make messages`"


PLURAL_FORMS = {"vi": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}


@pytest.mark.parametrize("name", sorted(APPS))
def test_catalogs_declare_their_plural_forms(name: str) -> None:
    app = APPS[name]
    for locale in LOCALES:
        with (app.translations / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            assert read_po(handle).plural_forms == PLURAL_FORMS[locale]
    compiled = load_translations(app.translations)
    for singular, plural in (m for m in app.known if isinstance(m, tuple)):
        # With Vietnamese's one form, 1 and 2 give the same text, and never the plural id.
        one, two = (compiled["vi"].ngettext(singular, plural, n) for n in (1, 2))
        assert one == two
        assert one not in (singular, plural)


@pytest.mark.parametrize("name", sorted(APPS))
def test_one_deleted_text_fails_the_completeness_check(name: str, tmp_path: Path) -> None:
    app = APPS[name]
    copy = tmp_path / "translations"
    shutil.copytree(app.translations, copy)
    en = copy / "en" / "LC_MESSAGES" / "messages.po"
    text = en.read_text(encoding="utf-8")
    blanked = re.sub(r'(msgid "save"\nmsgstr )".+"', r'\1""', text)
    assert blanked != text
    en.write_text(blanked, encoding="utf-8")
    assert missing_translations(copy, extracted_ids(app)) == {"vi": [], "en": ["save"]}


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_catalogs_are_package_data(name: str) -> None:
    app = APPS[name]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    package = app.translations.parent  # the Python package that holds translations/
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    catalogs = {p for p in app.translations.rglob("*") if p.suffix in (".po", ".pot")}
    assert len(catalogs) == 1 + len(LOCALES)
    assert catalogs <= shipped
