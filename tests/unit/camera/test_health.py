"""HealthMonitor and classify_frame on generated frames; time comes from a fake clock."""

from __future__ import annotations

import cv2
import numpy as np

from edge_agent.camera import health
from edge_agent.camera.health import HealthMonitor, classify_frame
from tests.unit.camera import scenes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_classify_frame_states_and_metrics() -> None:
    assert classify_frame(scenes.live_frames(1)[0])[0] == health.OK
    assert classify_frame(scenes.black_frames(1)[0])[0] == health.BLACK
    assert classify_frame(scenes.covered_frames(1)[0])[0] == health.COVERED
    state, metrics = classify_frame(scenes.blurred_frames(1)[0])
    assert state == health.COVERED
    assert set(metrics) == {"mean", "std", "laplacian_var"}
    assert metrics["laplacian_var"] < health.BLUR_MAX_LAPLACIAN < metrics["std"] * 10


def test_classify_frame_does_not_depend_on_resolution() -> None:
    frame = scenes.live_frames(1)[0]
    big = np.repeat(np.repeat(frame, 6, axis=0), 6, axis=1)  # 1920x1440
    assert classify_frame(big)[0] == health.OK


def test_no_frame_yet_is_no_frames() -> None:
    verdict = HealthMonitor().observe(None)
    assert verdict.state == health.NO_FRAMES and verdict.last_frame_at is None


def test_one_missed_read_keeps_the_state_three_make_no_frames() -> None:
    clock = Clock()
    monitor = HealthMonitor(clock=clock)
    first = monitor.observe(scenes.live_frames(1)[0])
    assert first.state == health.OK and first.last_frame_at == 1000.0
    clock.now += 1
    assert monitor.observe(None) == first
    clock.now += 1
    assert monitor.observe(None).state == health.OK
    clock.now += 1
    gone = monitor.observe(None)
    assert gone.state == health.NO_FRAMES
    assert gone.last_frame_at == 1000.0
    assert gone.metrics == {"missed_reads": 3.0, "seconds_since_frame": 3.0}


def test_a_long_silence_is_no_frames_even_on_the_first_miss() -> None:
    clock = Clock()
    monitor = HealthMonitor(clock=clock)
    monitor.observe(scenes.live_frames(1)[0])
    clock.now += health.NO_FRAMES_AFTER_S + 1
    assert monitor.observe(None).state == health.NO_FRAMES


def test_frozen_after_n_identical_frames_and_recovers() -> None:
    monitor = HealthMonitor(frozen_after=3)
    frozen = scenes.frozen_frames(3)
    states = [monitor.observe(f).state for f in frozen]
    assert states == [health.OK, health.OK, health.FROZEN]
    assert monitor.verdict.metrics["identical_frames"] == 3.0
    assert monitor.observe(scenes.live_frames(2)[1]).state == health.OK


def test_a_ticking_clock_on_a_stuck_image_is_still_frozen() -> None:
    monitor = HealthMonitor()
    base = scenes.live_frames(1)[0]
    for second in range(6):
        frame = base.copy()
        cv2.putText(
            frame,
            f"12:00:{second:02d}",
            (5, 230),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
        )
        verdict = monitor.observe(frame)
    assert verdict.state == health.FROZEN


def test_live_noise_alone_is_not_frozen() -> None:
    monitor = HealthMonitor()
    rng = np.random.default_rng(7)
    still = scenes.live_frames(1)[0]
    for _ in range(8):
        noisy = np.clip(still + rng.normal(0, 1.0, still.shape), 0, 255).astype(np.uint8)
        verdict = monitor.observe(noisy)
    assert verdict.state == health.OK


def test_black_wins_over_frozen() -> None:
    monitor = HealthMonitor(frozen_after=2)
    black = np.zeros((120, 160, 3), np.uint8)
    assert [monitor.observe(black).state for _ in range(3)] == [health.BLACK] * 3
