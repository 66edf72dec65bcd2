"""Numbers as Vietnamese workers type them: a decimal comma, dots only between thousands.

"1.500" written in Vietnam means one thousand five hundred, "1,5" one and a half. The form
never guesses (issue 13): a comma is the decimal separator; a dot is accepted only where it can
mean nothing but thousands (``1.500``, ``12.345.678,5``: groups of exactly three digits after a
first group of 1-3 that does not start with 0); any other dot (``1.5``, ``14.25``, ``0.500``,
``1.5000``) is refused with a message asking for the comma. The touchscreen's keypad has no dot
key, and its preview shows the value the server will save, formatted as below.
"""

from __future__ import annotations

import math
import re

from trace_protocol.locales import format_decimal

_PLAIN = re.compile(r"-?\d+(?:,\d+)?")
_GROUPED = re.compile(r"-?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")


class NumberError(ValueError):
    """Why a text is not a number: ``code`` is ``not_number`` or ``use_comma``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_number(text: str) -> float:
    """The value of ``text`` by the rule above; raises :class:`NumberError`."""
    cleaned = text.strip().translate(_SPACES).replace("\u2212", "-")
    if _PLAIN.fullmatch(cleaned):
        value = float(cleaned.replace(",", "."))
    elif _GROUPED.fullmatch(cleaned):
        value = float(cleaned.replace(".", "").replace(",", "."))
    elif "." in cleaned and re.fullmatch(r"-?[\d.,]+", cleaned):
        raise NumberError("use_comma")
    else:
        raise NumberError("not_number")
    if not math.isfinite(value):
        raise NumberError("not_number")
    return value


def format_number(value: float, lang: str = "vi") -> str:
    """``1500.5`` → ``1.500,5`` (vi) or ``1,500.5`` (en): up to 6 decimals, no trailing zeros."""
    return format_decimal(value, "en" if lang == "en" else "vi")
