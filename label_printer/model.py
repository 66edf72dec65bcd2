"""Describe what goes on a label (content) and the physical label size (layout), with validation.

Also parses a JSON-style mapping into :class:`LabelContent` for callers such as the CLI.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

LANGUAGES = ("vi", "en")

CAPTIONS: dict[str, dict[str, str]] = {
    "vi": {"lot": "Số lô", "production_date": "NSX", "expiry_date": "HSD"},
    "en": {"lot": "Lot", "production_date": "MFG", "expiry_date": "EXP"},
}

MM_PER_INCH = 25.4
POINTS_PER_INCH = 72.0


@dataclass(frozen=True)
class LabelContent:
    """Everything printed on one product label."""

    product_name: str
    producer: str
    ocop_stars: int
    lot: str
    production_date: datetime.date
    expiry_date: datetime.date | None
    url: str
    extra_lines: tuple[str, ...] = ()
    language: str = "vi"

    def __post_init__(self) -> None:
        if not isinstance(self.extra_lines, tuple):  # keep the content hashable (render caches)
            object.__setattr__(self, "extra_lines", tuple(self.extra_lines))
        if isinstance(self.ocop_stars, bool) or not isinstance(self.ocop_stars, int):
            raise ValueError(f"ocop_stars must be an integer 0..5, got {self.ocop_stars!r}")
        if not 0 <= self.ocop_stars <= 5:
            raise ValueError(f"ocop_stars must be between 0 and 5, got {self.ocop_stars}")
        if self.language not in LANGUAGES:
            raise ValueError(
                f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}"
            )
        if not self.url.strip():
            raise ValueError("url must not be empty: it is encoded in the QR code")
        if self.expiry_date is not None and self.expiry_date < self.production_date:
            raise ValueError(
                f"expiry_date {self.expiry_date.isoformat()} is before "
                f"production_date {self.production_date.isoformat()}"
            )

    def caption(self, field_name: str) -> str:
        """Return the printed caption ("Số lô", "NSX", ...) for a field in the label language."""
        return CAPTIONS[self.language][field_name]


@dataclass(frozen=True)
class LabelLayout:
    """Physical label size and print resolution."""

    width_mm: float = 60.0
    height_mm: float = 40.0
    dpi: int = 300

    def __post_init__(self) -> None:
        for name in ("width_mm", "height_mm"):
            value = getattr(self, name)
            if not 5.0 <= value <= 1000.0:
                raise ValueError(f"{name} must be between 5 and 1000 mm, got {value}")
        if not 50 <= self.dpi <= 2400:
            raise ValueError(f"dpi must be between 50 and 2400, got {self.dpi}")

    @property
    def width_px(self) -> int:
        return mm_to_px(self.width_mm, self.dpi)

    @property
    def height_px(self) -> int:
        return mm_to_px(self.height_mm, self.dpi)

    @property
    def width_pt(self) -> float:
        return self.width_mm * POINTS_PER_INCH / MM_PER_INCH

    @property
    def height_pt(self) -> float:
        return self.height_mm * POINTS_PER_INCH / MM_PER_INCH


DEFAULT_LAYOUT = LabelLayout()  # frozen, so safe to share as a default argument
THERMAL_LAYOUT = LabelLayout(dpi=203)  # the common resolution of Zebra, TSC and receipt printers


def mm_to_px(mm: float, dpi: int) -> int:
    """Convert millimetres to a whole number of pixels at ``dpi`` (at least 1)."""
    return max(1, round(mm * dpi / MM_PER_INCH))


def format_date(value: datetime.date) -> str:
    """Format a date the Vietnamese way: dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y")


_REQUIRED = ("product_name", "producer", "ocop_stars", "lot", "production_date", "url")
_STRING_FIELDS = ("product_name", "producer", "lot", "url", "language")


def _parse_date(name: str, value: Any) -> datetime.date:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO date string like 2024-11-22, got {value!r}")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not a valid ISO date (YYYY-MM-DD): {value!r}") from None


def content_from_dict(data: Mapping[str, Any]) -> LabelContent:
    """Build a :class:`LabelContent` from JSON-decoded data (dates as ISO strings).

    Raises ``ValueError`` with a message naming the offending field.
    """
    if not isinstance(data, Mapping):
        raise ValueError("label content must be a JSON object")
    known = {f.name for f in fields(LabelContent)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    for name in _STRING_FIELDS:
        if name in data and not isinstance(data[name], str):
            raise ValueError(f"{name} must be a string, got {data[name]!r}")
    stars = data["ocop_stars"]
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise ValueError(f"ocop_stars must be an integer 0..5, got {stars!r}")
    extra = data.get("extra_lines", [])
    if not isinstance(extra, list | tuple) or not all(isinstance(x, str) for x in extra):
        raise ValueError("extra_lines must be a list of strings")
    expiry_raw = data.get("expiry_date")
    return LabelContent(
        product_name=data["product_name"],
        producer=data["producer"],
        ocop_stars=stars,
        lot=data["lot"],
        production_date=_parse_date("production_date", data["production_date"]),
        expiry_date=None if expiry_raw is None else _parse_date("expiry_date", expiry_raw),
        url=data["url"],
        extra_lines=tuple(extra),
        language=data.get("language", "vi"),
    )
