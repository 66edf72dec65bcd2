"""Label URLs and lot codes (DESIGN.md §6, standards/NOTES.md §1): GTIN check, DL paths, lots."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

# GS1 AI 82 character set (NOTES.md §1): what may appear in a lot (AI 10) value.
_AI82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}\Z")
SHORT_PREFIX = "l"


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of the digits ``body`` (a GTIN without its last digit)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def check_gtin(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as GTIN-14; raises ``ValueError``."""
    if not (gtin.isascii() and gtin.isdigit()) or len(gtin) not in (8, 12, 13, 14):
        raise ValueError("a GTIN has 8, 12, 13 or 14 digits")
    if gtin_check_digit(gtin[:-1]) != int(gtin[-1]):
        raise ValueError(f"GTIN {gtin} has a wrong check digit")
    return gtin.zfill(14)


def check_lot(lot: str) -> str:
    if not _AI82.match(lot):
        raise ValueError("a lot code is 1-20 characters of the GS1 AI 82 set")
    return lot


# Device lot letters (issue 12): one per device of a facility, assigned by the server at
# registration. No I or O: on a label they read as 1 and 0 next to the date's digits.
LOT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
MAX_LOT_INDEX = len(LOT_LETTERS)
_LOT_RE = re.compile(
    r"^(?P<prefix>[A-Z0-9_-]{1,5})-(?P<product>[A-Z0-9_]{1,4})-(?P<day>[0-9]{6})"
    r"(?:-(?P<old>[0-9]{2})|(?P<letter>[A-HJ-NP-Z])(?P<counter>[0-9]{2}))\Z"
)


@dataclass(frozen=True)
class LotCode:
    """A lot code taken apart (:func:`parse_lot`)."""

    prefix: str
    product: str
    day: date | None  # None when the six digits are not a calendar date
    counter: int
    index: int | None  # the device's lot index; None for lots of devices enrolled before it


def lot_letter(index: int) -> str:
    """The letter of device lot index ``index`` (1 = A, ..., 24 = Z)."""
    if not 1 <= index <= MAX_LOT_INDEX:
        raise ValueError(f"a device lot index is 1-{MAX_LOT_INDEX}")
    return LOT_LETTERS[index - 1]


def build_lot(
    prefix: str, product_code: str, day: date, counter: int, index: int | None = None
) -> str:
    """Lot code ``{PREFIX}-{PRODUCT}-{YYMMDD}{L}{NN}``, at most 20 characters (GS1 AI 10).

    ``L`` is the device's lot letter (``index``, assigned by the server at registration), so two
    devices of one facility never mint the same code offline. Without an index (a device enrolled
    before lot letters existed) the code keeps its old form ``{PREFIX}-{PRODUCT}-{YYMMDD}-{NN}``:
    the letter takes the hyphen's place, so both forms fit the same 20-character budget.
    """
    if counter < 1 or counter > 99:
        raise ValueError("at most 99 batches of one product per device per day")
    sep = "-" if index is None else lot_letter(index)
    lot = f"{prefix.upper()}-{product_code.upper()}-{day:%y%m%d}{sep}{counter:02d}"
    return check_lot(lot)


# The product part of a receiving lot (issue 15): raw material received from a supplier gets
# its own lot code of the same form, ``{PREFIX}-NL-{YYMMDD}{L}{NN}`` ("nguyên liệu"), so a
# catalog may not use NL as a product code.
RECEIPT_PRODUCT = "NL"


def build_receipt_lot(prefix: str, day: date, counter: int, index: int | None = None) -> str:
    """The receiving lot code of a raw-material receipt: :func:`build_lot` with product NL."""
    return build_lot(prefix, RECEIPT_PRODUCT, day, counter, index)


def is_receipt_lot(lot: str) -> bool:
    parsed = parse_lot(lot)
    return parsed is not None and parsed.product == RECEIPT_PRODUCT


def parse_lot(lot: str) -> LotCode | None:
    """Take apart a code made by :func:`build_lot` (either form); None for any other code.

    The product part is the last hyphen-free group before the date: a facility code with '-'
    parses (``K-C-NM-…``), a product code with '-' does not and gives None.
    """
    m = _LOT_RE.match(lot)
    if m is None:
        return None
    digits = m["day"]
    try:
        day: date | None = date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        day = None
    letter = m["letter"]
    return LotCode(
        prefix=m["prefix"],
        product=m["product"],
        day=day,
        counter=int(m["old"] or m["counter"]),
        index=LOT_LETTERS.index(letter) + 1 if letter else None,
    )


def lot_prefix(lot: str) -> str:
    """The facility part of a lot: :func:`parse_lot`'s prefix, else (a code no kit device made,
    such as one whose product code holds '-') everything before its first '-'."""
    parsed = parse_lot(lot)
    return parsed.prefix if parsed else lot.split("-", 1)[0]


def build_batch_url(base_url: str, lot: str, gtin: str | None = None) -> str:
    """The public page of a batch: a GS1 Digital Link path with a GTIN, else the short form."""
    from trace_protocol.digital_link import build_link  # the GS1 rules (validates its output)

    base = base_url.rstrip("/")
    if gtin:
        return build_link(base, check_gtin(gtin), check_lot(lot))
    return f"{base}/{SHORT_PREFIX}/{quote(check_lot(lot), safe='')}"
