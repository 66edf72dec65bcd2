"""The camera source contract shared by every backend: Frame, CameraSource and CameraError."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from edge_agent.camera.errors import CameraError

__all__ = ["CameraError", "CameraSource", "Frame", "as_bgr_frame", "to_uint8"]

Frame: TypeAlias = npt.NDArray[np.uint8]
"""One image as OpenCV holds it: BGR, uint8, shape (height, width, 3)."""


class CameraSource(Protocol):
    """Anything that yields frames: a Pi camera, a USB or IP camera, a video file, a folder."""

    name: str

    def read(self) -> Frame | None:
        """One fresh frame, or None when none can be had now (the source may recover later)."""
        ...

    def close(self) -> None:
        """Free the device or connection; further reads return None."""
        ...


def to_uint8(image: Any) -> npt.NDArray[np.uint8]:
    """An OpenCV result typed as the uint8 array it is (no copy when it already is one)."""
    return np.asarray(image, dtype=np.uint8)


def as_bgr_frame(image: object) -> Frame | None:
    """Check what a backend returned and give it the Frame type, or None if it is not one."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        return None
    frame: Frame = np.ascontiguousarray(image)
    return frame
