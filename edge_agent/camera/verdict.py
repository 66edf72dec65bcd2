"""A camera's health verdict and its states, importable without OpenCV or NumPy (issue 17).

health.py computes verdicts; the agent holds and reports them without loading the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OK, NO_FRAMES, BLACK, FROZEN, COVERED = "ok", "no_frames", "black", "frozen", "covered"
STATES = (OK, NO_FRAMES, BLACK, FROZEN, COVERED)


@dataclass(frozen=True)
class HealthVerdict:
    """One camera's state after a read, with a readable detail and the numbers behind it."""

    state: str
    detail: str
    last_frame_at: float | None
    metrics: dict[str, float] = field(default_factory=dict)
