"""Read a supplier's lot from a QR code in a camera frame (issue 15: "Quét mã").

The QR is decoded with OpenCV's ``QRCodeDetector``, imported only when a code is scanned (the
agent never imports cv2 at start, docs/architecture.md). What it says must be a lot label: a
GS1 Digital Link with a lot (AI 10), or a kit label URL (``/l/{lot}[/{serial}]``); it becomes
the receipt's ``source`` (``url``, ``gtin``, ``lot``, ``serial``) and its ``supplier_lot``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from trace_protocol.digital_link import LinkError, parse_link
from trace_protocol.links import SHORT_PREFIX

MAX_TEXT = 500
_SHORT = re.compile(rf"^/{SHORT_PREFIX}/(?P<lot>[^/]+)(?:/(?P<serial>[^/]+))?/?$")


class ScanError(ValueError):
    """A frame without a readable QR (``no_code``) or a code that is not a lot label
    (``not_lot_label``); ``code`` is translated by the UI."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def decode_qr(frame: Any) -> str:
    """The text of the QR code in ``frame`` (a BGR image); raises ScanError("no_code")."""
    import cv2  # lazy: only a scan needs it

    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(frame)
    if not text:
        raise ScanError("no_code")
    return str(text)


def parse_lot_label(text: str) -> dict[str, str]:
    """``{"url", "lot", "gtin"?, "serial"?}`` from a scanned code; raises ScanError
    ("not_lot_label") for anything that does not name a lot."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT or not text.lower().startswith(("https://", "http://")):
        raise ScanError("not_lot_label")
    try:
        link = parse_link(text)
    except LinkError:
        link = None
    out = {"url": text}
    if link is not None:
        lot = link.get("10")
        if not lot:
            raise ScanError("not_lot_label")
        out["lot"] = lot
        for ai, key in (("01", "gtin"), ("21", "serial")):
            value = link.get(ai)
            if value:
                out[key] = value
        return out
    m = _SHORT.match(urlsplit(text).path)
    if m is None:
        raise ScanError("not_lot_label")
    out["lot"] = unquote(m["lot"])
    if m["serial"]:
        out["serial"] = unquote(m["serial"])
    return out


def scan_frame(frame: Any) -> dict[str, str]:
    """Decode and parse in one go (what the "Quét mã" button does)."""
    return parse_lot_label(decode_qr(frame))
