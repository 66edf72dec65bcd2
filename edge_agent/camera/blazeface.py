"""Find faces with MediaPipe's BlazeFace short-range model, run by OpenCV's DNN (issue 12 #8).

The model is vendored in ``data/`` with its Apache-2.0 licence; where it comes from and why:
docs/cameras.md#privacy-hiding-faces. It was trained on faces seen from any side with hair,
hats, glasses and masks, which the Haar cascade was not, but it looks at a 128×128 image and
finds faces that fill about a fifth of it or more. So the frame is searched as a pyramid of
overlapping square windows, each half the side of the level above, until a face of
``MIN_FACE_PX`` fills a fifth of a window. Windows go through the network one at a time: OpenCV
4.14's TFLite importer keeps the model's batch-1 reshapes, so a batch mixes up its boxes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.camera.protocol import CameraError, Frame, to_uint8

Box = tuple[int, int, int, int]

MODEL_PATH = Path(__file__).with_name("data") / "face_detection_short_range.tflite"
MODEL_SHA256 = "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
INPUT_SIDE = 128
# Anchors of the short-range model (MediaPipe's face_detection_short_range graph): a 16×16 grid
# with 2 anchors a cell, then an 8×8 grid with 6; centres only, fixed size.
ANCHOR_LAYERS = ((8, 2), (16, 6))
# MediaPipe publishes 0.5. Lower, because here a false face costs a pixelated patch of machine
# and a missed one a worker's identity (measured in tests/security/test_face_privacy.py).
MIN_SCORE = 0.35
NMS_IOU = 0.3
# The smallest face searched for, in pixels of the detection copy (faces.DETECT_MAX_SIDE).
MIN_FACE_PX = 24
# The model finds faces down to about this fraction of its window's side.
FACE_FRACTION = 0.2
BATCH = 1


class ModelUnavailable(CameraError):
    """The vendored model is missing, altered, or this OpenCV cannot run it."""


@dataclass(frozen=True)
class Window:
    """A square of the frame (``x``, ``y``, ``side``), possibly running past its edges."""

    x: int
    y: int
    side: int


def _anchors() -> np.ndarray[Any, np.dtype[np.float32]]:
    centres: list[tuple[float, float]] = []
    for stride, per_cell in ANCHOR_LAYERS:
        cells = INPUT_SIDE // stride
        for row in range(cells):
            for col in range(cells):
                centres.extend([((col + 0.5) / cells, (row + 0.5) / cells)] * per_cell)
    return np.asarray(centres, dtype=np.float32)


@functools.cache
def _model() -> tuple[Any, tuple[str, ...]]:
    if not MODEL_PATH.is_file():
        raise ModelUnavailable(f"face model {MODEL_PATH} is missing")
    if hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() != MODEL_SHA256:
        raise ModelUnavailable(f"face model {MODEL_PATH} is not the vendored file (sha256)")
    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise ModelUnavailable(f"OpenCV {cv2.__version__} cannot read TFLite models (needs 4.8+)")
    try:
        net = cv2.dnn.readNetFromTFLite(str(MODEL_PATH))
        names = tuple(str(n) for n in net.getUnconnectedOutLayersNames())
    except cv2.error as exc:
        raise ModelUnavailable(f"OpenCV cannot load the face model: {exc}") from exc
    return net, names


def load() -> None:
    """Load the model now; raise ModelUnavailable if it cannot run here."""
    _model()


def windows(width: int, height: int, min_face: int = MIN_FACE_PX) -> list[Window]:
    """The pyramid of windows searched in a ``width``×``height`` frame.

    Level 0 is the whole frame padded to a square; each next level halves the side and lays
    windows at half-side steps, so any face smaller than half a window lies wholly inside one.
    """
    side = max(width, height)
    smallest = max(INPUT_SIDE // 2, round(min_face / FACE_FRACTION))
    found = [Window(0, 0, side)]
    side //= 2
    while side >= smallest:
        step = side // 2
        xs = _positions(width, side, step)
        ys = _positions(height, side, step)
        found.extend(Window(x, y, side) for y in ys for x in xs)
        side //= 2
    return found


def _positions(length: int, side: int, step: int) -> list[int]:
    if length <= side:
        return [0]
    last = length - side
    return sorted({*range(0, last, step), last})


def _crop(frame: Frame, w: Window) -> Frame:
    height, width = frame.shape[:2]
    part = frame[w.y : min(height, w.y + w.side), w.x : min(width, w.x + w.side)]
    pad_bottom, pad_right = w.side - part.shape[0], w.side - part.shape[1]
    if pad_bottom or pad_right:
        border = cv2.BORDER_CONSTANT
        part = to_uint8(cv2.copyMakeBorder(part, 0, pad_bottom, 0, pad_right, border, value=0))
    return to_uint8(cv2.resize(part, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA))


def detect(frame: Frame, min_score: float = MIN_SCORE) -> list[tuple[Box, float]]:
    """Face boxes in ``frame`` with their scores; raise ModelUnavailable without the model."""
    net, names = _model()
    anchors = _anchors()
    height, width = frame.shape[:2]
    boxes: list[list[int]] = []
    scores: list[float] = []
    for w in windows(width, height):
        blob = cv2.dnn.blobFromImage(
            _crop(frame, w),
            scalefactor=1 / 127.5,
            size=(INPUT_SIDE, INPUT_SIDE),
            mean=(127.5, 127.5, 127.5),
            swapRB=True,
        )
        net.setInput(blob)
        outputs = [np.asarray(o, dtype=np.float32) for o in net.forward(names)]
        logits = next(o for o in outputs if o.shape[-1] == 1).reshape(-1)
        regress = next(o for o in outputs if o.shape[-1] == 16).reshape(-1, 16)
        probs = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        for i in np.flatnonzero(probs >= min_score).tolist():
            dx, dy, bw, bh = (regress[i, :4] / INPUT_SIDE).tolist()
            cx, cy = anchors[i, 0] + dx, anchors[i, 1] + dy
            boxes.append(
                [
                    round(w.x + (cx - bw / 2) * w.side),
                    round(w.y + (cy - bh / 2) * w.side),
                    round(bw * w.side),
                    round(bh * w.side),
                ]
            )
            scores.append(float(probs[i]))
    if not boxes:
        return []
    keep = np.asarray(cv2.dnn.NMSBoxes(boxes, scores, min_score, NMS_IOU)).reshape(-1).tolist()
    return [((b[0], b[1], b[2], b[3]), scores[k]) for k in keep for b in [boxes[k]]]
