"""Generated camera footage for the tests: live, black, frozen, covered and blurred scenes, a face.

Everything is drawn with OpenCV and numpy from a fixed seed and written as real MJPG/AVI files,
the format a cheap camera's stream decodes to, so the health thresholds are tested on frames that
went through a JPEG codec like real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from edge_agent.camera.protocol import Frame, to_uint8

SIZE = (320, 240)  # width, height
FPS = 10


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _noisy(frame: Frame, sigma: float, rng: np.random.Generator) -> Frame:
    noise = rng.normal(0.0, sigma, frame.shape)
    out: Frame = np.clip(frame.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    return out


def _background(rng: np.random.Generator) -> Frame:
    """A workshop-like backdrop: shelves of random grey-brown patches and a few lines."""
    width, height = SIZE
    small = rng.integers(40, 200, (height // 20, width // 20, 3)).astype(np.uint8)
    frame = to_uint8(cv2.resize(small, SIZE, interpolation=cv2.INTER_NEAREST))
    for y in range(30, height, 60):
        cv2.line(frame, (0, y), (width, y), (20, 30, 40), 3)
    return frame


def live_frames(count: int = 12, seed: int = 1) -> list[Frame]:
    """Moving shapes on a textured backdrop, with fresh sensor noise in every frame."""
    rng = _rng(seed)
    backdrop = _background(rng)
    frames = []
    for i in range(count):
        frame = backdrop.copy()
        cv2.circle(frame, (30 + 20 * i, 120), 25, (0, 200, 255), -1)
        cv2.rectangle(frame, (200, 20 + 15 * i), (260, 70 + 15 * i), (200, 80, 30), -1)
        frames.append(_noisy(frame, 4.0, rng))
    return frames


def black_frames(count: int = 12, seed: int = 2) -> list[Frame]:
    """A lens cap or lights off: black with a little sensor noise."""
    rng = _rng(seed)
    return [_noisy(np.zeros((SIZE[1], SIZE[0], 3), np.uint8), 2.0, rng) for _ in range(count)]


def frozen_frames(count: int = 12) -> list[Frame]:
    """A stuck feed: the same live frame over and over."""
    return [live_frames(1)[0]] * count


def covered_frames(count: int = 12, seed: int = 3) -> list[Frame]:
    """A hand or a sack over the lens: one brownish colour, sensor noise only."""
    rng = _rng(seed)
    brown = np.full((SIZE[1], SIZE[0], 3), (60, 95, 140), np.uint8)
    return [_noisy(brown, 3.0, rng) for _ in range(count)]


def blurred_frames(count: int = 12, seed: int = 4) -> list[Frame]:
    """A lens far out of focus: the live scene under a heavy blur, then sensor noise."""
    rng = _rng(seed)
    blurred = [to_uint8(cv2.GaussianBlur(f, (0, 0), 12)) for f in live_frames(count, seed)]
    return [_noisy(f, 1.5, rng) for f in blurred]


def write_video(path: Path, frames: Iterable[Frame]) -> Path:
    """Write ``frames`` to an MJPG AVI at ``path`` and return the path."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened(), "this OpenCV cannot write MJPG/AVI"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def face_scene(face_side: int = 200) -> Frame:
    """A drawn frontal face (skin oval, brows, eyes, nose, mouth) on a plain wall, 640x480.

    Haar's frontal-face cascade keys on a dark eye band above brighter cheeks and a bright nose
    bridge; this drawing has those and the cascade shipped with opencv-python 4.x finds it.
    """
    scene = np.full((480, 640, 3), (40, 40, 40), np.uint8)
    s = face_side / 400
    face = np.full((face_side, face_side, 3), (90, 120, 60), np.uint8)
    c = face_side // 2

    def at(x: float, y: float) -> tuple[int, int]:
        return int(c + x * s), int(c + y * s)

    def axes(a: float, b: float) -> tuple[int, int]:
        return int(a * s), int(b * s)

    cv2.ellipse(face, at(0, 0), axes(110, 140), 0, 0, 360, (150, 180, 220), -1)
    cv2.ellipse(face, at(0, -150), axes(120, 60), 0, 180, 360, (30, 40, 60), -1)
    for dx in (-45, 45):
        cv2.ellipse(face, at(dx, -50), axes(28, 8), 0, 0, 360, (40, 50, 70), -1)
        cv2.ellipse(face, at(dx, -25), axes(24, 12), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(face, at(dx, -25), int(10 * s), (30, 20, 20), -1)
    cv2.line(face, at(0, -20), at(-10, 30), (110, 140, 180), max(1, int(6 * s)))
    cv2.ellipse(face, at(0, 35), axes(20, 8), 0, 0, 360, (100, 130, 170), -1)
    cv2.ellipse(face, at(0, 75), axes(40, 12), 0, 0, 360, (60, 60, 150), -1)
    face = to_uint8(cv2.GaussianBlur(face, (0, 0), 2 * s))
    top, left = (480 - face_side) // 2, (640 - face_side) // 2
    scene[top : top + face_side, left : left + face_side] = face
    return scene
