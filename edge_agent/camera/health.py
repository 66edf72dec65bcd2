"""Camera health from the frames themselves: no frames, black, frozen, covered/out of focus, ok.

Pure functions on frames, no I/O. Every metric is computed on a small grey copy of the frame
(longest side ANALYSIS_SIDE), so the thresholds do not depend on the camera's resolution and a
monitor keeps only that copy between frames. The thresholds were calibrated on the generated
videos of tests/unit/camera/scenes.py (MJPG-encoded, as a cheap camera's stream is); see
docs/cameras.md for the numbers measured there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.camera.protocol import Frame, to_uint8
from edge_agent.camera.verdict import (
    BLACK,
    COVERED,
    FROZEN,
    NO_FRAMES,
    OK,
    STATES,
    HealthVerdict,
)

__all__ = [
    "BLACK",
    "COVERED",
    "FROZEN",
    "NO_FRAMES",
    "OK",
    "STATES",
    "HealthMonitor",
    "HealthVerdict",
    "analysis_grey",
    "changed_fraction",
    "classify_frame",
]

# Longest side of the grey copy all metrics use: big enough for texture, small enough that
# sensor noise is averaged down and the copy kept per camera is ~19 KB.
ANALYSIS_SIDE = 160
# Mean grey level (0-255) below which a frame is black: lens cap, lights off, dead sensor.
# Measured: a black feed with noise 0.8; the live scene at 30 % exposure (dim but usable) 33.
BLACK_MAX_MEAN = 20.0
# A covered lens (hand, tape, a rice sack) is one flat colour: on the grey copy the sensor noise
# averages out and its standard deviation measured 0.5; the dim scene 11.8, the live one 39.
COVERED_MAX_STD = 6.0
# Variance of the Laplacian on the grey copy, i.e. how much edge there is. Measured: live scene
# 1,400; a plain, softly lit backdrop 44; a lens far out of focus 6.5; a covered lens 3.3.
BLUR_MAX_LAPLACIAN = 25.0
# Two frames are the same when fewer than this fraction of the grey copy's pixels differ by a
# grey level or more. Sensor noise alone changes many pixels of every live frame (0.28 measured
# for a still scene with the faintest noise, 0.76 with motion); a frozen feed repeats exactly
# (0.0), or nearly when a stuck image still carries a ticking clock overlay (0.005).
FROZEN_MAX_CHANGED = 0.01
# No frame for this many reads in a row, or for this long, is "no_frames".
NO_FRAMES_AFTER_READS = 3
NO_FRAMES_AFTER_S = 30.0

Grey = npt.NDArray[np.uint8]


def analysis_grey(frame: Frame) -> Grey:
    """The small grey copy every metric is computed on."""
    height, width = frame.shape[:2]
    scale = ANALYSIS_SIDE / max(height, width)
    grey = to_uint8(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = to_uint8(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    return grey


def _grey_metrics(grey: Grey) -> dict[str, float]:
    laplacian = cv2.Laplacian(grey, cv2.CV_64F)
    return {
        "mean": round(float(np.mean(grey)), 2),
        "std": round(float(np.std(grey)), 2),
        "laplacian_var": round(float(np.var(laplacian)), 2),
    }


def _classify(metrics: dict[str, float]) -> str:
    if metrics["mean"] < BLACK_MAX_MEAN:
        return BLACK
    if metrics["std"] < COVERED_MAX_STD or metrics["laplacian_var"] < BLUR_MAX_LAPLACIAN:
        return COVERED
    return OK


def classify_frame(frame: Frame) -> tuple[str, dict[str, float]]:
    """BLACK, COVERED or OK for one frame, with its mean, std and laplacian_var."""
    metrics = _grey_metrics(analysis_grey(frame))
    return _classify(metrics), metrics


def changed_fraction(a: Grey, b: Grey) -> float:
    """Fraction of pixels that differ by at least one grey level (1.0 if the sizes differ)."""
    if a.shape != b.shape:
        return 1.0
    return float(np.count_nonzero(cv2.absdiff(a, b))) / a.size


_DETAILS = {
    BLACK: "image is black (mean brightness {mean:.1f} < {limit:.0f})",
    COVERED: "lens covered or out of focus (std {std:.1f}, laplacian variance {laplacian_var:.1f})",
    OK: "ok",
}


class HealthMonitor:
    """Health of one camera, fed with every read (a frame or None); O(1) memory."""

    def __init__(
        self,
        *,
        frozen_after: int = 5,
        clock: Callable[[], float] = time.time,
        no_frames_after: int = NO_FRAMES_AFTER_READS,
        no_frames_after_s: float = NO_FRAMES_AFTER_S,
    ) -> None:
        self._frozen_after = frozen_after
        self._clock = clock
        self._no_frames_after = no_frames_after
        self._no_frames_after_s = no_frames_after_s
        self._previous: Grey | None = None
        self._same = 1  # frames in a row equal to the newest one, counting it
        self._misses = 0
        self._last_frame_at: float | None = None
        self._verdict = HealthVerdict(NO_FRAMES, "no frame read yet", None, {})

    @property
    def verdict(self) -> HealthVerdict:
        """The verdict of the latest observation."""
        return self._verdict

    def observe(self, frame: Frame | None) -> HealthVerdict:
        """Take one read's result into account and return the camera's state now."""
        self._verdict = self._missed() if frame is None else self._seen(frame)
        return self._verdict

    def _missed(self) -> HealthVerdict:
        self._misses += 1
        last = self._last_frame_at
        metrics = {"missed_reads": float(self._misses)}
        if last is None:
            return HealthVerdict(NO_FRAMES, f"no frame in {self._misses} read(s)", None, metrics)
        silent_s = self._clock() - last
        if self._misses < self._no_frames_after and silent_s <= self._no_frames_after_s:
            return self._verdict  # one dropped read is not an outage: keep the last state
        metrics["seconds_since_frame"] = round(silent_s, 1)
        detail = f"no frame in {self._misses} read(s), last one {silent_s:.0f}s ago"
        return HealthVerdict(NO_FRAMES, detail, last, metrics)

    def _seen(self, frame: Frame) -> HealthVerdict:
        self._misses = 0
        self._last_frame_at = now = self._clock()
        grey = analysis_grey(frame)
        metrics = _grey_metrics(grey)
        if self._previous is not None:
            changed = changed_fraction(grey, self._previous)
            metrics["changed_fraction"] = round(changed, 4)
            self._same = self._same + 1 if changed < FROZEN_MAX_CHANGED else 1
        self._previous = grey
        metrics["identical_frames"] = float(self._same)
        state = _classify(metrics)
        if state == OK and self._same >= self._frozen_after:
            detail = f"image frozen: {self._same} identical frames in a row"
            return HealthVerdict(FROZEN, detail, now, metrics)
        detail = _DETAILS[state].format(limit=BLACK_MAX_MEAN, **metrics)
        return HealthVerdict(state, detail, now, metrics)
