"""Turn a frame into stored snapshot files: full JPEG, thumbnail and the face-hidden public copy.

``BlobStore`` (blobs.py) and ``blur_faces`` (faces.py) are re-exported here, the names callers use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge_agent.camera.blobs import BlobStore
from edge_agent.camera.faces import FaceDetectorUnavailable, blur_faces
from edge_agent.camera.protocol import CameraError, Frame, to_uint8

__all__ = ["BlobStore", "Snapshot", "blur_faces", "encode_jpeg", "make_thumbnail", "take_snapshot"]

log = logging.getLogger(__name__)

THUMB_MAX_SIDE = 320


@dataclass(frozen=True)
class Snapshot:
    """The stored files of one snapshot.

    ``thumb_*`` is a thumbnail of the full, unblurred image: office use only. ``public_*`` is the
    face-hidden full image and ``public_thumb_sha256`` its thumbnail, present only when the
    snapshot was taken with ``public=True`` and faces could be searched for.
    """

    sha256: str
    path: Path
    thumb_sha256: str
    thumb_path: Path
    width: int
    height: int
    public_sha256: str | None
    public_path: Path | None
    public_thumb_sha256: str | None = None


def encode_jpeg(frame: Frame, quality: int = 85) -> bytes:
    """``frame`` as JPEG bytes; the same frame and quality always give the same bytes."""
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise CameraError(f"cannot encode a {frame.shape} frame as JPEG")
    return to_uint8(buffer).tobytes()


def make_thumbnail(frame: Frame, max_side: int = THUMB_MAX_SIDE) -> Frame:
    """``frame`` scaled down (never up) so its longer side is at most ``max_side``."""
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        same: Frame = frame.copy()
        return same
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return to_uint8(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))


def public_image(frame: Frame) -> Frame | None:
    """What a consumer may see of ``frame``: faces hidden; None if faces can't be searched for."""
    try:
        return blur_faces(frame)[0]
    except FaceDetectorUnavailable as exc:  # fail closed: nothing public (issue 12 #8)
        log.warning("%s: no public copy is made", exc)
        return None


def take_snapshot(frame: Frame, store: BlobStore, *, public: bool) -> Snapshot:
    """Store the full JPEG and its thumbnail, plus the public copy and its thumbnail when
    ``public`` and a face detector can run."""
    sha256, path = store.put(encode_jpeg(frame))
    thumb_sha256, thumb_path = store.put(encode_jpeg(make_thumbnail(frame)))
    public_sha256: str | None = None
    public_path: Path | None = None
    public_thumb_sha256: str | None = None
    hidden = public_image(frame) if public else None
    if hidden is not None:
        public_sha256, public_path = store.put(encode_jpeg(hidden))
        # Consumers on 3G get a small face-hidden thumbnail first.
        public_thumb_sha256 = store.put(encode_jpeg(make_thumbnail(hidden)))[0]
    height, width = frame.shape[:2]
    return Snapshot(
        sha256,
        path,
        thumb_sha256,
        thumb_path,
        width,
        height,
        public_sha256,
        public_path,
        public_thumb_sha256,
    )
