"""Reading a supplier's lot from a QR in a camera frame (issue 15, "Quét mã")."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import qrcode

from edge_agent.qr_scan import ScanError, parse_lot_label, scan_frame
from trace_protocol.digital_link import build_link
from trace_protocol.links import build_batch_url
from trace_protocol.unit_codes import build_unit_url

GTIN = "08936123450014"


def _frame(text: str) -> np.ndarray:
    """A BGR camera frame holding the QR of ``text`` on a grey background."""
    qr = np.asarray(qrcode.make(text).get_image().convert("RGB"), dtype=np.uint8)
    frame = np.full((qr.shape[0] + 80, qr.shape[1] + 120, 3), 180, dtype=np.uint8)
    frame[40 : 40 + qr.shape[0], 60 : 60 + qr.shape[1]] = qr[:, :, ::-1]
    return frame


def test_a_gs1_digital_link_in_a_frame_gives_gtin_and_lot() -> None:
    link = build_link("https://id.example.vn", GTIN, "THT-0301")
    assert scan_frame(_frame(link)) == {"url": link, "gtin": GTIN, "lot": "THT-0301"}


def test_kit_labels_batch_and_unit_short_and_gs1_forms() -> None:
    base = "https://trace.example.vn"
    assert parse_lot_label(build_batch_url(base, "KC-NM-240301-01"))["lot"] == "KC-NM-240301-01"
    unit = build_unit_url(base, "KC-NM-240301A01", "000012", "abcdefgh", GTIN)
    assert parse_lot_label(unit) | {"url": ""} == {
        "url": "",
        "gtin": GTIN,
        "lot": "KC-NM-240301A01",
        "serial": "000012",
    }
    short = build_unit_url(base, "KC-NM-240301A01", "000012", "abcdefgh", None)
    assert parse_lot_label(short)["serial"] == "000012"


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/khuyen-mai",
        "Mật ong rừng 500 ml",
        f"https://id.example.vn/01/{GTIN}",  # a product, not a lot
        "",
    ],
)
def test_anything_else_is_not_a_lot_label(text: str) -> None:
    with pytest.raises(ScanError) as err:
        parse_lot_label(text)
    assert err.value.code == "not_lot_label"


def test_a_frame_without_a_code() -> None:
    with pytest.raises(ScanError) as err:
        scan_frame(np.full((240, 320, 3), 200, dtype=np.uint8))
    assert err.value.code == "no_code"


def test_the_scanner_imports_cv2_only_when_it_scans() -> None:
    code = "import sys, edge_agent.qr_scan; print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
