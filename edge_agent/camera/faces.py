"""Find and hide faces, so a photo shown to consumers never identifies a worker (issue 4).

Detection uses OpenCV's Haar frontal-face cascade: the XML that opencv-python 4.x wheels ship in
``cv2.data.haarcascades``, or Debian's ``opencv-data`` copy. OpenCV 5 no longer has
``CascadeClassifier``; where no cascade can be loaded, ``detect_faces`` raises
FaceDetectorUnavailable and callers must fail closed (``take_snapshot`` pixelates the whole
public image). Hiding is a coarse pixelation: unlike a Gaussian blur, nothing of the face's
detail is left in the block averages to sharpen back.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.camera.protocol import CameraError, Frame, to_uint8

Box = tuple[int, int, int, int]
"""x, y, width, height in pixels."""

CASCADE_FILE = "haarcascade_frontalface_default.xml"
CASCADE_DIRS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
# Faces are searched on a copy at most this wide or high: a Pi handles it in well under a second,
# and a face 30 px wide in a 1080p overview still reaches the cascade's 24 px window.
DETECT_MAX_SIDE = 1280
# Grown on every side by this fraction of the box: the cascade's box stops at the brows and chin,
# while hair, ears and the jaw line identify a person too.
MARGIN = 0.25
# Pixel blocks across a hidden face: too few to leave eyes, nose or mouth recognisable.
BLOCKS_ACROSS = 6


class FaceDetectorUnavailable(CameraError):
    """This OpenCV has no face cascade to run: public images must not be made from detection."""


def _cascade_path() -> Path | None:
    data = getattr(cv2, "data", None)
    dirs = [str(getattr(data, "haarcascades", ""))] if data is not None else []
    for folder in [*dirs, *CASCADE_DIRS]:
        if folder and (Path(folder) / CASCADE_FILE).is_file():
            return Path(folder) / CASCADE_FILE
    return None


@functools.cache
def _cascade() -> Any:
    path = _cascade_path()
    if not hasattr(cv2, "CascadeClassifier") or path is None:
        raise FaceDetectorUnavailable(
            f"no face detector: OpenCV {cv2.__version__} lacks CascadeClassifier or {CASCADE_FILE}"
            " (opencv-python-headless 4.x ships both)"
        )
    classifier = cv2.CascadeClassifier(str(path))
    if bool(classifier.empty()):
        raise FaceDetectorUnavailable(f"cannot load the face cascade {path}")
    return classifier


def face_detector_available() -> bool:
    """Whether detect_faces can run on this machine."""
    try:
        _cascade()
    except FaceDetectorUnavailable:
        return False
    return True


def detect_faces(frame: Frame) -> list[Box]:
    """Boxes of the frontal faces in ``frame``; raise FaceDetectorUnavailable without a cascade."""
    classifier = _cascade()
    height, width = frame.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    grey = to_uint8(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    if scale < 1:
        size = (round(width * scale), round(height * scale))
        grey = to_uint8(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    boxes: list[Box] = []
    # Raw and equalised grey find different faces in backlit scenes; hiding too much is the safe
    # error, so the two sets are joined.
    for image in (grey, to_uint8(cv2.equalizeHist(grey))):
        found = classifier.detectMultiScale(image, scaleFactor=1.1, minNeighbors=4)
        for x, y, w, h in np.asarray(found, dtype=np.int64).reshape(-1, 4).tolist():
            box = (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            if not any(_overlaps(box, seen) for seen in boxes):
                boxes.append(box)
    return boxes


def _overlaps(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy > 0.5 * min(aw * ah, bw * bh)


def pixelate(region: Frame, blocks_across: int = BLOCKS_ACROSS) -> Frame:
    """``region`` as a mosaic of about ``blocks_across`` blocks on its longer side."""
    height, width = region.shape[:2]
    step = max(1, max(height, width) // blocks_across)
    size = (max(1, width // step), max(1, height // step))
    small = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    return to_uint8(cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST))


def blur_boxes(frame: Frame, boxes: list[Box], *, margin: float = MARGIN) -> Frame:
    """A copy of ``frame`` with every box (grown by ``margin``) pixelated beyond recognition."""
    out: Frame = frame.copy()
    height, width = frame.shape[:2]
    for x, y, w, h in boxes:
        dx, dy = round(w * margin), round(h * margin)
        x0, y0 = max(0, x - dx), max(0, y - dy)
        x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = pixelate(out[y0:y1, x0:x1])
    return out


def blur_faces(frame: Frame) -> tuple[Frame, int]:
    """A copy of ``frame`` with its faces hidden, and how many were found."""
    boxes = detect_faces(frame)
    return blur_boxes(frame, boxes), len(boxes)
