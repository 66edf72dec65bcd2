"""A generated video of a production line, the demo's "file camera" (no footage is shipped)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 480)
FPS = 5
SECONDS = 12


def write_demo_video(path: Path) -> Path:
    """Sacks moving along a conveyor under a lamp, with sensor noise so health checks see life."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    rng = np.random.default_rng(2019)
    width, height = SIZE
    for i in range(FPS * SECONDS):
        frame = np.full((height, width, 3), (70, 95, 110), np.uint8)  # wall
        cv2.rectangle(frame, (0, 300), (width, 360), (40, 40, 45), -1)  # belt
        for k in range(4):
            x = (i * 12 + k * 170) % (width + 120) - 120
            cv2.rectangle(frame, (x, 230), (x + 100, 300), (150, 200, 225), -1)  # rice sacks
            cv2.putText(
                frame, "NGOC MAM", (x + 8, 272), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 60, 30), 1
            )
        cv2.circle(frame, (520, 90), 40, (200, 240, 255), -1)  # lamp
        cv2.putText(
            frame,
            f"KC line 1  {i // FPS:02d}s",
            (20, 40),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8,
            (255, 255, 255),
            2,
        )
        noise = rng.normal(0, 4, frame.shape)
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    tmp.replace(path)
    return path
