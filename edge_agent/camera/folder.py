"""A folder of still images served as a camera, cycling through them in name order."""

from __future__ import annotations

from pathlib import Path

import cv2

from edge_agent.camera.protocol import CameraError, Frame, as_bgr_frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class FolderSource:
    """Each read gives the next *.jpg/*.jpeg/*.png (sorted by name), starting over at the end.

    The folder is listed again at every pass, so images dropped in while the agent runs are
    picked up. An empty folder or an unreadable image gives None, like a camera with no frame.
    """

    def __init__(self, name: str, folder: Path) -> None:
        if not folder.is_dir():
            raise CameraError(f"camera {name!r}: no folder at {folder}")
        self.name = name
        self._folder = folder
        self._queue: list[Path] = []
        self._closed = False

    def _list(self) -> list[Path]:
        return sorted(
            p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )

    def read(self) -> Frame | None:
        if self._closed:
            return None
        if not self._queue:
            self._queue = self._list()
            if not self._queue:
                return None
        path = self._queue.pop(0)
        return as_bgr_frame(cv2.imread(str(path), cv2.IMREAD_COLOR))

    def close(self) -> None:
        self._closed = True
        self._queue = []
