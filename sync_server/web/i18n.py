"""The server pages' language: gettext catalogs (Vietnamese first, English second) and formats.

The texts live in ``translations/<locale>/LC_MESSAGES/messages.po`` (docs/translations.md); a
message id is a symbolic key such as ``office_title``. The current language comes from
``?lang=`` or the ``lang`` cookie, as before; numbers and dates follow it through
:mod:`trace_protocol.locales`, after :mod:`sync_server.vn_time` has put moments in Vietnam time.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask, Response, has_request_context, request

from sync_server.vn_time import VN_TZ, to_vn, vn_day, vn_today
from trace_protocol.locales import (
    LOCALES,
    N_,
    Messages,
    format_date,
    format_datetime,
    format_decimal,
)
from trace_protocol.unit_codes import SIG_PARAM

TRANSLATIONS = Path(__file__).parent / "translations"
# Query parameters that are part of a label's code (trace_protocol.unit_codes).
CODE_PARAMS = frozenset({SIG_PARAM})

__all__ = [
    "MESSAGES",
    "N_",
    "RUNTIME_IDS",
    "TRANSLATIONS",
    "VN_TZ",
    "current_lang",
    "duration",
    "install_i18n",
    "number",
    "page_lang",
    "switch_lang_url",
    "translate",
    "translate_in",
    "translate_plural",
    "vn_today",
    "vndate",
    "vntime",
]


# Ids the templates build at run time (``t('state_' ~ f.state)`` ...): listed here so that
# `make messages` extracts them and the completeness test checks them.
RUNTIME_IDS = (
    # TRANSLATORS: a device's or facility's liveness: heard recently.
    N_("state_online"),
    # TRANSLATORS: liveness: not heard for a while, not yet offline.
    N_("state_stale"),
    N_("state_offline"),
    # TRANSLATORS: liveness: the server refuses its events until the office looks.
    N_("state_blocked"),
    # TRANSLATORS: a batch's status in the office's tables: still in production.
    N_("open"),
    # TRANSLATORS: a batch's status in the office's tables: finished, its output recorded.
    N_("closed"),
    # TRANSLATORS: a batch's status in the office's tables: opened by mistake, voided (issue 15).
    N_("voided"),
    # TRANSLATORS: alert kinds on the dashboard ('alert_' + the kind stored by the server).
    N_("alert_silent"),
    N_("alert_camera"),
    N_("alert_disk_low"),
    N_("alert_journal_behind"),
    N_("alert_server_behind"),
    N_("alert_suspicious_scans"),
    N_("alert_quarantine"),
    N_("alert_fork"),
    N_("alert_chain_break"),
    N_("alert_bad_signature"),
    N_("alert_bad_hash"),
    N_("alert_bad_body"),
    N_("alert_revoked"),
    N_("alert_forged_traffic"),
    N_("alert_wrong_facility"),
    N_("alert_lot_taken"),
    N_("alert_unknown_batch"),
    N_("alert_consumer_report"),
    N_("alert_doubtful_scan"),
    # TRANSLATORS: issue 15: the worker confirmed using more of a raw-material lot than was left.
    N_("alert_stock_override"),
    # TRANSLATORS: issue 15: the worker confirmed shipping more of a lot than was produced.
    N_("alert_ship_override"),
    # TRANSLATORS: a scan's verdict in the office ('verdict_' + sync_server/consumer/scans.py).
    N_("verdict_genuine"),
    N_("verdict_forged"),
    N_("verdict_never_printed"),
    N_("verdict_unverifiable"),
    N_("verdict_batch"),
    N_("verdict_not_found"),
    # TRANSLATORS: messages refused on a device's topics (sync_server/ingest/rejects.py).
    N_("rejected_forged"),
    N_("rejected_malformed"),
    N_("rejected_status"),
)


MESSAGES = Messages(TRANSLATIONS)
_LANG_KEY = "ocop.lang"  # the request's language, once worked out (WSGI environ)


def current_lang() -> str:
    """The page's language: ``?lang=``, else the ``lang`` cookie, else Vietnamese. Worked out
    once per request (a page asks for it at every text it translates)."""
    environ = request.environ
    lang: str | None = environ.get(_LANG_KEY)
    if lang is None:
        chosen = request.args.get("lang") or request.cookies.get("lang") or LOCALES[0]
        lang = environ[_LANG_KEY] = chosen if chosen in LOCALES else LOCALES[0]
    return lang


def translate_in(lang: str, key: str, **params: Any) -> str:
    """``key``'s text in ``lang`` with its ``{name}`` fields filled; an unknown key is itself."""
    return MESSAGES.text(lang, key, **params)


def translate(key: str, **params: Any) -> str:
    """``key``'s text in the page's language (templates call it ``t``)."""
    return translate_in(current_lang(), key, **params)


def translate_plural(singular: str, plural: str, n: int, **params: Any) -> str:
    """The form for ``n`` in the page's language (``1 OCOP star``, ``4 OCOP stars``); ``{n}``
    is ``n`` (templates call it ``tn``)."""
    return MESSAGES.plural(current_lang(), singular, plural, n, **params)


def page_lang() -> str:
    """The page's language in a request, else Vietnamese (a format called outside a page)."""
    return current_lang() if has_request_context() else LOCALES[0]


def switch_lang_url() -> str:
    """This page in the other language. A public page keeps the parameters that identify its
    code (a unit code's signature ``s``: dropped, a genuine label reads as forged, issue 13) and
    nothing else, so a cached batch page never carries one visitor's query to the next; an
    office page keeps all (a search, a filter)."""
    other = "en" if current_lang() == "vi" else "vi"
    office = request.path.startswith("/office")
    args = [
        (k, v)
        for k, v in request.args.items(multi=True)
        if k != "lang" and (office or k in CODE_PARAMS)
    ]
    return f"{quote(request.path)}?{urlencode([*args, ('lang', other)])}"


def _as_given(value: object) -> str:
    """What an unreadable date or time shows: the text itself, or nothing."""
    return value if isinstance(value, str) else ""


def vndate(value: str | float | None, lang: str | None = None) -> str:
    """An ISO date (``2026-11-22``) or a moment's Vietnam date: ``22/11/2026``."""
    day = vn_day(value)
    return _as_given(value) if day is None else format_date(day, lang or page_lang())


def vntime(value: str | float | None) -> str:
    """A device event's ISO time or a server timestamp in Vietnam time: ``22/11/2026 14:05``."""
    moment = to_vn(value)
    return _as_given(value) if moment is None else format_datetime(moment, page_lang())


def number(value: float | None, lang: str | None = None) -> str:
    """A quantity or count with the language's separators: vi ``1.234,5``, en ``1,234.5``."""
    return "" if value is None else format_decimal(value, lang or page_lang())


def duration(seconds: float | None) -> str:
    """A short age: ``45 s``, ``12 min``, ``5 h``, ``3 d`` (same in both languages)."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


def install_i18n(app: Flask) -> None:
    MESSAGES.load()  # a missing or broken catalog stops the server at start, not on a page
    app.add_template_filter(vndate, "vndate")
    app.add_template_filter(vndate, "tsdate")  # a server timestamp's date
    app.add_template_filter(vntime, "vntime")
    app.add_template_filter(vntime, "fromts")  # a server timestamp
    app.add_template_filter(duration, "duration")
    app.add_template_filter(number, "number")

    @app.context_processor
    def _inject() -> dict[str, Any]:
        lang = current_lang()
        return {
            "t": functools.partial(translate_in, lang),
            "tn": functools.partial(MESSAGES.plural, lang),
            "lang": lang,
            "switch_lang_url": switch_lang_url,
        }

    @app.after_request
    def _remember(resp: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen in LOCALES:
            resp.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
        return resp
