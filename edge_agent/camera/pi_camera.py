"""The Raspberry Pi camera module through picamera2, imported only when such a camera is opened.

picamera2 comes from Raspberry Pi OS (``apt install python3-picamera2``), never from PyPI, and the
agent's venv sees it through system site packages. Only its documented calls are used:
``Picamera2(camera_num)``, ``create_still_configuration(main={"size": ..., "format": "RGB888"})``,
``configure``, ``start``, ``capture_array("main")``, ``stop`` and ``close``. The tests run this
against a fake module with exactly those calls (tests/unit/camera/fake_picamera2.py).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from edge_agent.camera.protocol import CameraError, Frame, as_bgr_frame

log = logging.getLogger(__name__)

# Full HD: enough to read a label or a scale in an evidence photo, small enough for a Pi to
# encode quickly and upload over a farm's 4G link.
DEFAULT_SIZE = (1920, 1080)
NOT_INSTALLED = "picamera2 is not installed (apt install python3-picamera2)"


class Picamera2Source:
    """Camera module ``camera_num`` of this Pi, configured for stills in RGB888."""

    def __init__(
        self, name: str, camera_num: int = 0, *, size: tuple[int, int] = DEFAULT_SIZE
    ) -> None:
        self.name = name
        try:
            module = importlib.import_module("picamera2")
        except ImportError as exc:
            raise CameraError(NOT_INSTALLED) from exc
        try:
            camera: Any = module.Picamera2(camera_num)
            # picamera2's "RGB888" is laid out B, G, R in memory: OpenCV's order, no conversion.
            config = camera.create_still_configuration(main={"size": size, "format": "RGB888"})
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera reports a missing or busy camera as RuntimeError etc.
            raise CameraError(f"camera {name!r}: Pi camera {camera_num}: {exc}") from exc
        self._camera: Any = camera

    def read(self) -> Frame | None:
        if self._camera is None:
            return None
        try:
            image = self._camera.capture_array("main")
        except Exception as exc:  # a camera cable pulled mid-run: report no frame, not a crash
            log.warning("camera %s: capture failed: %s", self.name, exc)
            return None
        return as_bgr_frame(image)

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            camera.stop()
        finally:
            camera.close()
