"""Sample unit labels for the sticker-sheet tests: one product, distinct unit URLs."""

from __future__ import annotations

import dataclasses
import datetime

from label_printer import LabelContent

UNIT_URL = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/{:06d}"
SAMPLE = LabelContent(
    product_name="Mật ong hoa nhãn Cường Nga",
    producer="Cơ sở Cường Nga — Nghi Lộc, Nghệ An",
    ocop_stars=3,
    lot="CN-MO-240301-02",
    production_date=datetime.date(2024, 3, 1),
    expiry_date=datetime.date(2026, 3, 1),
    url=UNIT_URL.format(0),
)


def units(count: int) -> list[LabelContent]:
    return [dataclasses.replace(SAMPLE, url=UNIT_URL.format(n)) for n in range(count)]
