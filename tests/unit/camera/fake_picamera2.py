"""A fake ``picamera2`` module, installed into sys.modules by the tests (no Pi camera here).

It implements exactly the documented Picamera2 calls that edge_agent/camera/pi_camera.py makes,
with the behaviour the Picamera2 manual gives them: ``Picamera2(camera_num)`` acquires camera
``camera_num`` (RuntimeError when there is no such camera), ``create_still_configuration(main=...)``
returns a configuration whose ``main`` stream is the given size and format, ``configure`` must come
before ``start``, ``capture_array("main")`` blocks for the next frame of a started camera and
returns a (height, width, 3) uint8 array for RGB888, whose pixels the manual lays out as
[B, G, R], ``stop`` stops it and ``close`` releases it. Frames are the generated live scene.
"""

from __future__ import annotations

import sys
import types
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from edge_agent.camera.protocol import Frame
from tests.unit.camera.scenes import live_frames

FULL_SENSOR = (4056, 3040)  # the HQ camera's still size: create_still_configuration's default


class Picamera2:
    """The documented subset of picamera2.Picamera2, plus a log of the calls for the tests."""

    cameras: ClassVar[int] = 1  # how many camera modules the fake Pi has
    opened: ClassVar[list[Picamera2]] = []

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= Picamera2.cameras:
            raise RuntimeError(f"Camera __init__ sequence did not complete (camera {camera_num})")
        self.camera_num = camera_num
        self.calls: list[str] = ["__init__"]
        self.camera_config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self._frames = live_frames(6)
        self._count = 0
        Picamera2.opened.append(self)

    def create_still_configuration(
        self, main: dict[str, Any] | None = None, **_other: Any
    ) -> dict[str, Any]:
        self.calls.append("create_still_configuration")
        stream = {"format": "BGR888", "size": FULL_SENSOR, **(main or {})}
        return {"use_case": "still", "buffer_count": 1, "main": stream}

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        self.calls.append("configure")
        self.camera_config = camera_config

    def start(self) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.calls.append("start")
        self.started = True

    def capture_array(self, name: str = "main") -> Frame:
        if not self.started or self.camera_config is None:
            raise RuntimeError("Camera is not running")
        self.calls.append(f"capture_array:{name}")
        stream = self.camera_config[name]
        assert stream["format"] == "RGB888", "only RGB888 is faked"
        width, height = stream["size"]
        scene = self._frames[self._count % len(self._frames)]
        self._count += 1
        frame: Frame = np.asarray(cv2.resize(scene, (width, height)), dtype=np.uint8)
        return frame  # already [B, G, R] per pixel, as RGB888 is in memory

    def stop(self) -> None:
        self.calls.append("stop")
        self.started = False

    def close(self) -> None:
        self.calls.append("close")
        self.closed = True


def install(monkeypatch: pytest.MonkeyPatch, cameras: int = 1) -> type[Picamera2]:
    """Put the fake in sys.modules as ``picamera2`` for one test."""
    module = types.ModuleType("picamera2")
    module.Picamera2 = Picamera2  # type: ignore[attr-defined]
    monkeypatch.setattr(Picamera2, "cameras", cameras)
    monkeypatch.setattr(Picamera2, "opened", [])
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return Picamera2
