"""Face hiding speed per 640×480 frame: the kit's detector against the Haar cascade alone.

``python -m bench.faces`` times ``detect_faces`` (BlazeFace over its window pyramid, what public
copies use) and ``haar_faces`` (the Haar cascade, the detector before issue 12 #8) on the same
frames in the same run, with OpenCV on one thread as on a busy Pi, and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from edge_agent.camera import blazeface
from edge_agent.camera.faces import detect_faces, haar_faces
from edge_agent.camera.protocol import Frame, to_uint8


def _frames(count: int) -> list[Frame]:
    # A textured workshop scene with a face-sized bright oval: every window does real work.
    rng = np.random.default_rng(7)
    frames = []
    for i in range(count):
        noise = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
        frame = to_uint8(cv2.GaussianBlur(noise, (0, 0), 2))
        cv2.ellipse(frame, (200 + 40 * i, 200), (45, 60), 0, 0, 360, (150, 170, 210), -1)
        frames.append(frame)
    return frames


def _per_frame_ms(detect: Callable[[Frame], object], frames: list[Frame], repeats: int) -> float:
    detect(frames[0])  # load models, warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for frame in frames:
            detect(frame)
        times.append((time.perf_counter() - start) / len(frames) * 1000)
    return statistics.median(times)


def run(count: int = 4, repeats: int = 3) -> dict[str, float]:
    cv2.setNumThreads(1)
    frames = _frames(count)
    kit = _per_frame_ms(detect_faces, frames, repeats)
    haar = _per_frame_ms(haar_faces, frames, repeats)
    return {
        "windows_per_frame": float(len(blazeface.windows(640, 480))),
        "kit_ms": round(kit, 1),
        "haar_ms": round(haar, 1),
        "ratio": round(kit / haar, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.frames, args.repeats)))


if __name__ == "__main__":
    main()
