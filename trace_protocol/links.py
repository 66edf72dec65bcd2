"""Label URLs and lot codes (DESIGN.md §6, standards/NOTES.md §1): GTIN check, DL paths, lots."""

from __future__ import annotations

import re
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


def build_lot(prefix: str, product_code: str, day: date, counter: int) -> str:
    """Lot code ``{PREFIX}-{PRODUCT}-{YYMMDD}-{NN}``, at most 20 characters (GS1 AI 10)."""
    if counter < 1 or counter > 99:
        raise ValueError("at most 99 batches of one product per device per day")
    lot = f"{prefix.upper()}-{product_code.upper()}-{day:%y%m%d}-{counter:02d}"
    return check_lot(lot)


def build_batch_url(base_url: str, lot: str, gtin: str | None = None) -> str:
    """The public page of a batch: a GS1 Digital Link path with a GTIN, else the short form."""
    from trace_protocol.digital_link import build_link  # the GS1 rules (validates its output)

    base = base_url.rstrip("/")
    if gtin:
        return build_link(base, check_gtin(gtin), check_lot(lot))
    return f"{base}/{SHORT_PREFIX}/{quote(check_lot(lot), safe='')}"
