"""The camera error every backend raises, importable without OpenCV or NumPy (issue 17)."""

from __future__ import annotations


class CameraError(Exception):
    """A source that cannot be opened or named; the message is meant for a person."""
