"""Decode QR codes in test images with OpenCV.

``cv2.QRCodeDetector`` misses a few percent of valid symbols, depending on the mask pattern
(it misses the ``qrcode`` package's symbols at the same rate for the same masks), so when it
finds nothing the ArUco-based detector, also from OpenCV, gets a second look.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image


def _pixels(image: Image.Image | NDArray[Any]) -> NDArray[np.uint8]:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    return np.asarray(image, dtype=np.uint8)


def decode(image: Image.Image | NDArray[Any]) -> str:
    """The text of the one QR code in ``image`` ("" if none decodes)."""
    pixels = _pixels(image)
    text = str(cv2.QRCodeDetector().detectAndDecode(pixels)[0])
    return text or str(cv2.QRCodeDetectorAruco().detectAndDecode(pixels)[0])


def decode_multi(image: Image.Image | NDArray[Any]) -> set[str]:
    """The texts of all QR codes in ``image`` (a sticker sheet page)."""
    pixels = _pixels(image)
    found: set[str] = set()
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        _ok, texts, _points, _straight = detector.detectAndDecodeMulti(pixels)
        found.update(str(t) for t in texts if t)
    return found
