"""Find and hide faces, so a photo shown to consumers never identifies a worker (issues 4, 12).

Faces are found by BlazeFace (blazeface.py, a model vendored in ``data/``), which finds them
turned, tilted, small, and under masks and hair caps. Without it ``detect_faces`` raises
FaceDetectorUnavailable and no public copy is made (snapshot.py). OpenCV's Haar frontal-face
cascade, the detector before issue 12 #8, is kept as ``haar_faces`` only as the baseline the
tests and ``bench/faces.py`` compare against: on the test faces it found nothing BlazeFace
missed and took four times as long (docs/cameras.md#privacy-hiding-faces).
Hiding is a coarse pixelation: unlike a Gaussian blur, nothing of the face's detail is left in
the block averages to sharpen back.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.camera import blazeface
from edge_agent.camera.protocol import CameraError, Frame, to_uint8

Box = tuple[int, int, int, int]
"""x, y, width, height in pixels."""

CASCADE_FILE = "haarcascade_frontalface_default.xml"
CASCADE_DIRS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
# Faces are searched on a copy at most this wide or high: a face 36 px wide in a 1080p still is
# 24 px there, blazeface.MIN_FACE_PX, the smallest searched for.
DETECT_MAX_SIDE = 1280
# Grown on every side by this fraction of the box: the detector's box stops at the brows and
# chin, while hair, ears and the jaw line identify a person too.
MARGIN = 0.25
# Pixel blocks across a hidden face: too few to leave eyes, nose or mouth recognisable.
BLOCKS_ACROSS = 6


class FaceDetectorUnavailable(CameraError):
    """No face model can run here: no public image may be made."""


def _cascade_path() -> Path | None:
    data = getattr(cv2, "data", None)
    dirs = [str(getattr(data, "haarcascades", ""))] if data is not None else []
    for folder in [*dirs, *CASCADE_DIRS]:
        if folder and (Path(folder) / CASCADE_FILE).is_file():
            return Path(folder) / CASCADE_FILE
    return None


@functools.cache
def _cascade() -> Any | None:
    """The Haar cascade, or None where this OpenCV has none (OpenCV 5, a build without data)."""
    path = _cascade_path()
    if not hasattr(cv2, "CascadeClassifier") or path is None:
        return None
    classifier = cv2.CascadeClassifier(str(path))
    return None if bool(classifier.empty()) else classifier


def face_detector_available() -> bool:
    """Whether detect_faces can run on this machine (BlazeFace's model loads)."""
    try:
        blazeface.load()
    except blazeface.ModelUnavailable:
        return False
    return True


def detect_faces(frame: Frame) -> list[Box]:
    """Boxes of the faces in ``frame``; raise FaceDetectorUnavailable without BlazeFace."""
    height, width = frame.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = frame
    if scale < 1:
        size = (round(width * scale), round(height * scale))
        small = to_uint8(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    try:
        found = [box for box, _score in blazeface.detect(small)]
    except blazeface.ModelUnavailable as exc:
        raise FaceDetectorUnavailable(f"no face detector: {exc}") from exc
    # Overlapping boxes are all kept (blazeface already merged near-duplicates): a face inside a
    # larger false box is pixelated twice, which costs nothing.
    return [
        (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in found
    ]


def haar_faces(frame: Frame) -> list[Box]:
    """Frontal faces the Haar cascade finds in ``frame`` (none where OpenCV has no cascade).

    The old detector, for comparison only: public copies do not use it.
    """
    classifier = _cascade()
    if classifier is None:
        return []
    grey = to_uint8(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    boxes: list[Box] = []
    # Raw and equalised grey find different faces in backlit scenes; hiding too much is the safe
    # error, so the two sets are joined.
    for image in (grey, to_uint8(cv2.equalizeHist(grey))):
        found = classifier.detectMultiScale(image, scaleFactor=1.1, minNeighbors=4)
        for x, y, w, h in np.asarray(found, dtype=np.int64).reshape(-1, 4).tolist():
            box = (int(x), int(y), int(w), int(h))
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
