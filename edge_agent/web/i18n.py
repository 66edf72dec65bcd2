"""Touchscreen strings from gettext catalogs (translations/): Vietnamese first, English second.

Message ids are symbolic keys (``save``, ``err_batch_closed``); each has a msgstr in
``translations/vi`` and ``translations/en`` (docs/translations.md). Texts keep ``{name}``
placeholders, filled here after the lookup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request

from trace_protocol.locales import LOCALES, N_, Messages

TRANSLATIONS = Path(__file__).parent / "translations"
__all__ = ["N_", "RUNTIME_IDS", "current_lang", "install_i18n", "translate", "translate_plural"]


# Ids built at run time: "err_" + a DomainError code (edge_agent.batches, printing, print_queue,
# and the PIN pad's errors), "status_" + a batch status, "cam_" + a camera health state.
RUNTIME_IDS = (
    N_("status_open"),
    N_("status_closed"),
    # TRANSLATORS: a camera's problem, shown after "Camera <name>:" in a warning banner.
    N_("cam_black"),
    N_("cam_covered"),
    N_("cam_frozen"),
    N_("cam_no_frames"),
    # TRANSLATORS: errors shown to the worker; {field}, {min}, {max}, {s}, {lot}, {reason} are
    # filled in by the program and must stay as they are.
    N_("err_batch_closed"),
    N_("err_batch_not_closed"),
    N_("err_batch_not_found"),
    N_("err_copies_invalid"),
    N_("err_format_unknown"),
    N_("err_lot_unavailable"),
    N_("err_no_steps"),
    N_("err_note_too_long"),
    N_("err_pin_locked"),
    N_("err_pin_pick_name"),
    N_("err_pin_wrong"),
    N_("err_printer"),
    N_("err_quantity_invalid"),
    N_("err_quantity_use_comma"),
    N_("err_reprint_unknown"),
    N_("err_unknown_product"),
    N_("err_unknown_step"),
    N_("err_value_missing"),
    N_("err_value_not_number"),
    N_("err_value_out_of_range"),
    N_("err_value_use_comma"),
    # TRANSLATORS: a form sent from a stale page or from another site was refused.
    N_("refused_write"),
)


MESSAGES = Messages(TRANSLATIONS)


def current_lang(default: str) -> str:
    lang = request.cookies.get("lang") or default
    return lang if lang in LOCALES else LOCALES[0]


def translate(key: str, lang: str, **params: Any) -> str:
    """``key``'s text in ``lang`` with ``params`` filled in; an unknown key comes back as is."""
    return MESSAGES.text(lang, key, **params)


def translate_plural(singular: str, plural: str, n: int, lang: str, **params: Any) -> str:
    """The form of ``singular``/``plural`` for ``n`` in ``lang``; ``{n}`` is ``n``."""
    return MESSAGES.plural(lang, singular, plural, n, **params)


def install_i18n(app: Flask, default_lang: str) -> None:
    """Templates get ``t(key, **params)``, ``tn(singular, plural, n, **params)`` and ``lang``."""

    @app.context_processor
    def _inject() -> dict[str, Any]:
        lang = current_lang(default_lang)
        return {
            "t": lambda key, **p: translate(key, lang, **p),
            "tn": lambda singular, plural, n, **p: translate_plural(singular, plural, n, lang, **p),
            "lang": lang,
        }
