"""Decide whether a URL's QR code will scan once printed: version and printer dots per module.

Issue #5: the code must scan from a 25 mm square at 203 dpi, which needs version 8 or lower
at error correction M and at least 3 printer dots per module. The square holds the symbol
plus a quiet zone of :data:`QUIET_ZONE_MODULES` modules each side (the label's margin adds
more white around it). Printers place whole dots, so the side is rounded down to dots.
"""

from __future__ import annotations

import math

from label_printer.model import MM_PER_INCH
from label_printer.qr_data import qr_version

MAX_VERSION = 8
MIN_DOTS_PER_MODULE = 3
QUIET_ZONE_MODULES = 2


def symbol_modules(version: int) -> int:
    """Modules across a symbol of ``version`` including the quiet zone on both sides."""
    return 17 + 4 * version + 2 * QUIET_ZONE_MODULES


def url_version(url: str) -> int:
    """The QR version this kit prints ``url`` with (error correction M); ValueError if none."""
    try:
        return qr_version(url.encode("utf-8"))
    except ValueError:
        raise ValueError(f"url is too long for any QR code ({len(url)} characters)") from None


def qr_fits(url: str, side_mm: float = 25.0, dpi: int = 203) -> tuple[bool, int, float]:
    """Whether ``url`` scans from a ``side_mm`` square printed at ``dpi``.

    Returns ``(fits, version, dots_per_module)``: fits is true when the version is at most
    :data:`MAX_VERSION` and each module gets at least :data:`MIN_DOTS_PER_MODULE` whole
    dots. A URL too long for any QR code gives ``(False, 0, 0.0)``.
    """
    if side_mm <= 0 or dpi <= 0:
        raise ValueError(f"side_mm and dpi must be positive, got {side_mm} and {dpi}")
    try:
        version = url_version(url)
    except ValueError:
        return False, 0, 0.0
    dots = math.floor(side_mm * dpi / MM_PER_INCH + 1e-9)
    per_module = dots / symbol_modules(version)
    return version <= MAX_VERSION and per_module >= MIN_DOTS_PER_MODULE, version, per_module


def check_qr(url: str, available_px: int, dpi: int) -> tuple[int, int]:
    """``(version, dots per module)`` for ``url`` in a square of ``available_px`` dots.

    Raises ``ValueError`` naming the problem when the code would not scan reliably.
    """
    version = url_version(url)
    if version > MAX_VERSION:
        raise ValueError(
            f"url is too long for a label QR code: it needs QR version {version} at error "
            f"correction M, at most {MAX_VERSION} scans reliably from 25 mm at 203 dpi; "
            f"shorten it (short host, no redundant attributes): {url}"
        )
    modules = symbol_modules(version)
    module_px = max(available_px, 0) // modules
    if module_px < MIN_DOTS_PER_MODULE:
        side_mm = max(available_px, 0) * MM_PER_INCH / dpi
        raise ValueError(
            f"label too small for the QR code: {modules} modules need at least "
            f"{modules * MIN_DOTS_PER_MODULE} dots but only {max(available_px, 0)} "
            f"({side_mm:.1f} mm at {dpi} dpi) are available; "
            "use a bigger label, a higher dpi or a shorter URL"
        )
    return version, module_px
