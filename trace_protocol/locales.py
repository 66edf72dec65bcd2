"""The UIs' gettext catalogs and locale formats (issue 14): .po loading, numbers, dates, gaps."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from babel import dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

# Vietnamese first: the default language of every screen.
LOCALES: tuple[str, ...] = ("vi", "en")

# One pattern for both languages: the producers, the office and the consumers read dates the
# Vietnamese way whatever the language of the page (issue 14, item 5).
_DATE_PATTERN = "dd/MM/yyyy"
_DATETIME_PATTERN = "dd/MM/yyyy HH:mm"
_DECIMAL_PATTERN = "#,##0.######"


def _po_path(directory: Path, locale: str) -> Path:
    """Where ``locale``'s catalog lives under an app's ``translations`` directory."""
    return directory / locale / "LC_MESSAGES" / "messages.po"


def _read_catalog(directory: Path, locale: str) -> Catalog:
    path = _po_path(directory, locale)
    if not path.is_file():
        raise FileNotFoundError(
            f"no {locale!r} message catalog at {path}: run `make messages` and translate it"
        )
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def load_translations(directory: Path) -> dict[str, Translations]:
    """Each of ``LOCALES``'s ``messages.po`` under ``directory``, compiled in memory.

    Compiling at load time means no binary ``.mo`` file is committed or built; fuzzy entries
    are left out as ``msgfmt`` would. Raises ``FileNotFoundError`` naming a missing catalog.
    """
    loaded: dict[str, Translations] = {}
    for locale in LOCALES:
        buffer = BytesIO()
        write_mo(buffer, _read_catalog(directory, locale))
        buffer.seek(0)
        loaded[locale] = Translations(fp=buffer)
    return loaded


def N_(key: str) -> str:
    """Mark a message id that the code looks up later or builds at run time, so that
    extraction (``make messages``) finds it."""
    return key


class Messages:
    """One app's catalogs (``directory/<locale>/LC_MESSAGES/messages.po``), compiled on first
    use; texts keep ``{name}`` placeholders, filled after the lookup. An unknown id comes back
    as itself."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: dict[str, Translations] | None = None

    def load(self) -> dict[str, Translations]:
        """Every locale's compiled catalog; a missing or broken file raises here."""
        if self._loaded is None:
            self._loaded = load_translations(self.directory)
        return self._loaded

    def text(self, locale: str, key: str, **params: object) -> str:
        """``key``'s text in ``locale`` with its ``{name}`` fields filled."""
        text = self.load()[locale].gettext(key)
        return text.format(**params) if params else text

    def plural(self, locale: str, singular: str, plural: str, n: int, **params: object) -> str:
        """The form of ``singular``/``plural`` for ``n`` in ``locale``; ``{n}`` is ``n``."""
        return self.load()[locale].ngettext(singular, plural, n).format(n=n, **params)


def format_decimal(value: int | float | Decimal, locale: str) -> str:
    """``value`` with the locale's separators: vi ``1.234,5``, en ``1,234.5``.

    Up to six decimals without trailing zeros: what the touchscreen saves (edge_agent/numbers.py)
    shows in full, and a float's binary noise (``0.1 + 0.2``) does not.
    """
    text = numbers.format_decimal(value, _DECIMAL_PATTERN, locale=locale)
    return "0" if text == "-0" else text


def format_date(value: date | datetime, locale: str) -> str:
    """``dd/MM/yyyy`` (the date part of a datetime), in both languages."""
    return _format_day(value.date() if isinstance(value, datetime) else value, locale)


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, locale: str) -> str:
    """A day's text, remembered: a page shows the same few days many times."""
    return dates.format_date(day, _DATE_PATTERN, locale=locale)


def format_datetime(value: datetime, locale: str) -> str:
    """``dd/MM/yyyy HH:mm`` in the value's own time zone (no conversion here)."""
    return dates.format_datetime(value, _DATETIME_PATTERN, tzinfo=value.tzinfo, locale=locale)


def _message_gap(catalog: Catalog, message_id: str | tuple[str, str]) -> bool:
    key = message_id[0] if isinstance(message_id, tuple) else message_id
    message = catalog.get(key)
    if message is None or message.fuzzy:
        return True
    strings = message.string
    if isinstance(message_id, tuple):
        if not isinstance(strings, (tuple, list)):
            return True
        return len(strings) < catalog.num_plurals or not all(strings)
    if isinstance(strings, (tuple, list)):
        return not all(strings)
    return not strings


def missing_translations(
    directory: Path, message_ids: Iterable[str | tuple[str, str]]
) -> dict[str, list[str]]:
    """For each of ``LOCALES``: the ids without a usable translation, in the given order.

    An id is missing when the catalog lacks it, its msgstr is empty, it is fuzzy, or (for a
    ``(singular, plural)`` pair) it has fewer plural forms than the catalog's ``Plural-Forms``.
    Plural pairs are reported by their singular id.
    """
    wanted = list(dict.fromkeys(message_ids))
    gaps: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalog = _read_catalog(directory, locale)
        gaps[locale] = [
            mid[0] if isinstance(mid, tuple) else mid
            for mid in wanted
            if _message_gap(catalog, mid)
        ]
    return gaps
