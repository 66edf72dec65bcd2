"""Snapshots: JPEG files named by their SHA-256, thumbnails, atomic writes, hidden faces."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.camera.faces import (
    FaceDetectorUnavailable,
    blur_boxes,
    detect_faces,
)
from edge_agent.camera.protocol import Frame, to_uint8
from edge_agent.camera.snapshot import (
    BlobStore,
    blur_faces,
    encode_jpeg,
    make_thumbnail,
    take_snapshot,
)
from tests.unit.camera import scenes

FACE_BOX = (220, 140, 200, 200)  # where scenes.face_scene() draws the face, x y w h


def _decode(path: Path) -> Frame:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a JPEG"
    return np.asarray(image, dtype=np.uint8)


def _fine(frame: Frame, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    grey = cv2.cvtColor(frame[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY).astype(np.float64)
    return (grey - cv2.GaussianBlur(grey, (0, 0), 3)).ravel()


def _likeness(a: Frame, b: Frame, box: tuple[int, int, int, int] = FACE_BOX) -> float:
    """Correlation of the fine detail (eyes, brows, mouth edges) of two images inside ``box``.

    About 1 when the features are all there, about 0 when they are gone: the edges of mosaic
    blocks do not line up with a face's features.
    """
    return float(np.corrcoef(_fine(a, box), _fine(b, box))[0, 1])


def test_encode_jpeg_decodes_and_is_deterministic() -> None:
    frame = scenes.live_frames(1)[0]
    data = encode_jpeg(frame)
    assert data[:2] == b"\xff\xd8"
    decoded = to_uint8(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    assert decoded.shape == frame.shape
    assert float(np.mean(cv2.absdiff(decoded, frame))) < 6
    assert encode_jpeg(frame) == data
    assert len(encode_jpeg(frame, quality=30)) < len(data)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((480, 640), (240, 320)), ((1920, 1080), (320, 180)), ((50, 100), (50, 100))],
)
def test_thumbnail_longest_side_is_at_most_320(
    shape: tuple[int, int], expected: tuple[int, int]
) -> None:
    frame = np.zeros((*shape, 3), np.uint8)
    assert make_thumbnail(frame).shape[:2] == expected


def test_blob_store_layout_hash_and_idempotence(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = encode_jpeg(scenes.live_frames(1)[0])
    sha, path = store.put(data)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path == tmp_path / "blobs" / sha[:2] / sha[2:4] / f"{sha}.jpg"
    assert store.has(sha) and store.path(sha) == path
    before = path.stat()
    assert store.put(data) == (sha, path)
    assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))
    assert store.usage_bytes() == len(data)
    store.delete(sha)
    store.delete(sha)  # deleting twice is fine
    assert not store.has(sha) and store.usage_bytes() == 0


def test_blob_store_repairs_a_damaged_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, path = store.put(b"\xff\xd8 full image \xff\xd9")
    path.write_bytes(b"\xff\xd8 cut")
    store.put(b"\xff\xd8 full image \xff\xd9")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


def test_blob_store_leaves_nothing_behind_when_a_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path)

    def power_cut(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"evidence")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_blob_store_rejects_names_that_are_not_hashes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        BlobStore(tmp_path).path("../../etc/passwd")


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=4096))
def test_blob_store_round_trip(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        store = BlobStore(Path(root))
        sha, path = store.put(data)
        assert path.read_bytes() == data and sha == hashlib.sha256(data).hexdigest()
        assert store.put(data) == (sha, path)


def test_take_snapshot_stores_full_and_thumbnail(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    frame = np.repeat(np.repeat(scenes.live_frames(1)[0], 2, axis=0), 2, axis=1)  # 640x480
    snap = take_snapshot(frame, store, public=False)
    assert (snap.width, snap.height) == (640, 480)
    assert snap.public_sha256 is None and snap.public_path is None
    for sha, path in [(snap.sha256, snap.path), (snap.thumb_sha256, snap.thumb_path)]:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert _decode(snap.path).shape == (480, 640, 3)
    assert _decode(snap.thumb_path).shape == (240, 320, 3)
    assert take_snapshot(frame, store, public=False) == snap  # same frame, same files


def test_blur_boxes_hides_the_box_and_keeps_the_rest() -> None:
    scene = scenes.face_scene()
    hidden = blur_boxes(scene, [FACE_BOX], margin=0.0)
    assert _likeness(hidden, scene) < 0.2
    mask = np.ones(scene.shape[:2], bool)
    mask[140:340, 220:420] = False
    assert np.array_equal(hidden[mask], scene[mask])


def test_blur_boxes_grows_the_box_by_the_margin() -> None:
    scene = scenes.face_scene()
    hidden = blur_boxes(scene, [(270, 190, 100, 100)], margin=0.5)  # grows to FACE_BOX
    assert _likeness(hidden, scene) < 0.2
    assert np.array_equal(hidden[:130], scene[:130])


def test_the_public_copy_never_shows_the_face(tmp_path: Path) -> None:
    scene = scenes.face_scene()
    snap = take_snapshot(scene, BlobStore(tmp_path), public=True)
    assert snap.public_path is not None and snap.public_sha256 is not None
    assert hashlib.sha256(snap.public_path.read_bytes()).hexdigest() == snap.public_sha256
    public, full = _decode(snap.public_path), _decode(snap.path)
    assert _likeness(full, scene) > 0.9
    assert _likeness(public, scene) < 0.2


def test_without_a_cascade_blazeface_alone_still_hides_faces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on an OpenCV without the cascade file: the Haar half is skipped, BlazeFace still runs.
    from edge_agent.camera import faces

    faces._cascade.cache_clear()
    monkeypatch.setattr(faces, "_cascade_path", lambda: None)
    monkeypatch.setattr(faces, "_cascade", functools.cache(faces._cascade.__wrapped__))
    scene = scenes.face_scene()
    assert faces.haar_faces(scene) == []
    snap = take_snapshot(scene, BlobStore(tmp_path), public=True)
    assert snap.public_path is not None


def test_without_the_face_model_no_public_copy_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A missing or altered model: detection refuses and nothing public is made (fail closed).
    from edge_agent.camera import blazeface

    blazeface._model.cache_clear()
    monkeypatch.setattr(blazeface, "MODEL_PATH", tmp_path / "missing.tflite")
    monkeypatch.setattr(blazeface, "_model", functools.cache(blazeface._model.__wrapped__))
    scene = scenes.face_scene()
    with pytest.raises(FaceDetectorUnavailable, match="no face detector"):
        blur_faces(scene)
    snap = take_snapshot(scene, BlobStore(tmp_path), public=True)
    assert snap.public_sha256 is None and snap.public_path is None
    assert snap.public_thumb_sha256 is None
    assert snap.path.is_file()  # the private original is still kept


def test_the_cascade_finds_the_drawn_face_and_only_it_is_hidden() -> None:
    scene = scenes.face_scene()
    boxes = detect_faces(scene)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 220 <= x + w / 2 <= 420 and 140 <= y + h / 2 <= 340
    hidden, found = blur_faces(scene)
    assert found == 1
    assert _likeness(hidden, scene) < 0.2
    assert np.array_equal(hidden[:100], scene[:100])  # the wall above the head is untouched
    assert detect_faces(scenes.live_frames(1)[0]) == []
