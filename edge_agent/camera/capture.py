"""Pull-mode OpenCV sources: video files (looping at the end) and USB/V4L2 cameras by index."""

from __future__ import annotations

from pathlib import Path

import cv2

from edge_agent.camera.protocol import CameraError, Frame, as_bgr_frame


class VideoFileSource:
    """Frames of a video file in order; at the end it starts again, for demos and tests."""

    def __init__(self, name: str, path: Path) -> None:
        if not path.is_file():
            raise CameraError(f"camera {name!r}: no video file at {path}")
        self.name = name
        self._path = path
        self._cap: cv2.VideoCapture | None = self._open()
        if self._cap is None:
            raise CameraError(f"camera {name!r}: OpenCV cannot read {path} as a video")

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        if not bool(cap.isOpened()):
            cap.release()
            return None
        return cap

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        if not ok:
            # End of the file: reopen rather than seek, which not every container supports.
            self._cap.release()
            self._cap = self._open()
            if self._cap is None:
                return None
            ok, image = self._cap.read()
        return as_bgr_frame(image) if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class DeviceSource:
    """A USB (V4L2) camera by index, opened on first read and reopened after a failed read."""

    def __init__(self, name: str, index: int, *, timeout_s: float = 5.0) -> None:
        self.name = name
        self._index = index
        self._timeout_ms = int(timeout_s * 1000)
        self._cap: cv2.VideoCapture | None = None
        self._closed = False

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self._index, cv2.CAP_V4L2)
        if not bool(cap.isOpened()):
            cap.release()
            return None
        # Keep one buffer so a read gives the newest frame, not one queued seconds ago. Both
        # settings are hints: a driver that ignores them just returns False.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._timeout_ms)
        return cap

    def read(self) -> Frame | None:
        if self._closed:
            return None
        if self._cap is None:
            self._cap = self._open()
            if self._cap is None:
                return None
        ok, image = self._cap.read()
        if not ok:
            # Unplugged or stalled: drop the handle so the next read opens the device again.
            self._cap.release()
            self._cap = None
            return None
        return as_bgr_frame(image)

    def close(self) -> None:
        self._closed = True
        if self._cap is not None:
            self._cap.release()
            self._cap = None
