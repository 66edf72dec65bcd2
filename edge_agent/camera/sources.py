"""Open a camera source from its URI: the one place that knows every URI form (docs/cameras.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edge_agent.camera.capture import DeviceSource, VideoFileSource
from edge_agent.camera.folder import FolderSource
from edge_agent.camera.pi_camera import Picamera2Source
from edge_agent.camera.protocol import CameraError, CameraSource, Frame
from edge_agent.camera.stream import StreamSource

__all__ = ["CameraError", "CameraSource", "Frame", "SourceSpec", "open_source", "parse_source"]

FORMS = (
    "picamera2[:N], usb:N, /dev/videoN, rtsp://…, http(s)://…, "
    "file:PATH or a video file path, folder:PATH or a directory path"
)
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
_DEVICE = re.compile(r"/dev/video(\d+)")


@dataclass(frozen=True)
class SourceSpec:
    """What a URI names: ``kind`` is picamera2, usb, stream, file or folder."""

    kind: str
    target: str
    index: int = 0


def _index(uri: str, text: str) -> int:
    if not text.isdigit():
        raise CameraError(f"bad camera source {uri!r}: {text!r} is not a camera number")
    return int(text)


def parse_source(uri: str) -> SourceSpec:
    """Tell which kind of source ``uri`` names; raise CameraError for a form it does not know."""
    uri = uri.strip()
    if uri == "picamera2":
        return SourceSpec("picamera2", uri, 0)
    if uri.startswith("picamera2:"):
        return SourceSpec("picamera2", uri, _index(uri, uri.removeprefix("picamera2:")))
    if uri.startswith("usb:"):
        return SourceSpec("usb", uri, _index(uri, uri.removeprefix("usb:")))
    if device := _DEVICE.fullmatch(uri):
        return SourceSpec("usb", uri, int(device.group(1)))
    if uri.lower().startswith(_STREAM_SCHEMES):
        return SourceSpec("stream", uri)
    if uri.startswith("folder:"):
        return SourceSpec("folder", _file_path(uri.removeprefix("folder:")))
    if uri.startswith("file:"):
        path = _file_path(uri.removeprefix("file:"))
        return SourceSpec("folder" if Path(path).is_dir() else "file", path)
    if not uri or "://" in uri or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^/\\]", uri):
        raise CameraError(f"unknown camera source {uri!r}; expected one of: {FORMS}")
    if Path(uri).is_dir():
        return SourceSpec("folder", uri)
    if Path(uri).is_file():
        return SourceSpec("file", uri)
    raise CameraError(f"unknown camera source {uri!r}: no such file or folder; forms: {FORMS}")


def _file_path(rest: str) -> str:
    # Accept both file:/abs/path and the URL spelling file:///abs/path.
    return "/" + rest.lstrip("/") if rest.startswith("//") else rest


def open_source(name: str, uri: str, *, timeout_s: float = 5.0) -> CameraSource:
    """Open the camera ``uri`` under ``name``; network and USB cameras connect on first read."""
    spec = parse_source(uri)
    if spec.kind == "picamera2":
        return Picamera2Source(name, spec.index)
    if spec.kind == "usb":
        return DeviceSource(name, spec.index, timeout_s=timeout_s)
    if spec.kind == "stream":
        return StreamSource(name, spec.target, timeout_s=timeout_s)
    if spec.kind == "folder":
        return FolderSource(name, Path(spec.target))
    return VideoFileSource(name, Path(spec.target))
