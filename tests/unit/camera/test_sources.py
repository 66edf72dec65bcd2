"""open_source on every URI form: real files through OpenCV, a folder, the picamera2 fake."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.camera.health import HealthMonitor
from edge_agent.camera.sources import CameraError, SourceSpec, open_source, parse_source
from tests.unit.camera import fake_picamera2, scenes


@pytest.mark.parametrize(
    ("uri", "spec"),
    [
        ("picamera2", SourceSpec("picamera2", "picamera2", 0)),
        ("picamera2:1", SourceSpec("picamera2", "picamera2:1", 1)),
        ("usb:0", SourceSpec("usb", "usb:0", 0)),
        ("/dev/video2", SourceSpec("usb", "/dev/video2", 2)),
        ("rtsp://10.0.0.5:554/stream1", SourceSpec("stream", "rtsp://10.0.0.5:554/stream1")),
        ("http://cam.local/video.mjpg", SourceSpec("stream", "http://cam.local/video.mjpg")),
        ("HTTPS://cam.local/x", SourceSpec("stream", "HTTPS://cam.local/x")),
        ("file:/srv/demo.mp4", SourceSpec("file", "/srv/demo.mp4")),
        ("file:///srv/demo.mp4", SourceSpec("file", "/srv/demo.mp4")),
        ("folder:/srv/stills", SourceSpec("folder", "/srv/stills")),
    ],
)
def test_uri_forms(uri: str, spec: SourceSpec) -> None:
    assert parse_source(uri) == spec


@pytest.mark.parametrize(
    "uri", ["", "ftp://cam/x", "onvif:cam1", "usb:first", "picamera2:-1", "/no/such/video.mp4"]
)
def test_unknown_forms_raise_a_readable_camera_error(uri: str) -> None:
    with pytest.raises(CameraError, match=r"camera source|camera number"):
        open_source("cam", uri)


def test_plain_paths_name_a_video_or_a_folder(tmp_path: Path, videos: dict[str, Path]) -> None:
    assert parse_source(str(videos["live"])) == SourceSpec("file", str(videos["live"]))
    assert parse_source(str(tmp_path)) == SourceSpec("folder", str(tmp_path))


def test_video_file_reads_every_frame_then_loops(videos: dict[str, Path]) -> None:
    expected = scenes.live_frames()
    source = open_source("line-1", f"file:{videos['live']}")
    assert source.name == "line-1"
    frames = [source.read() for _ in range(len(expected) + 2)]
    source.close()
    assert all(f is not None and f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in frames)
    got = [f for f in frames if f is not None]
    # MJPG is lossy: frames match the drawn ones closely, and the 13th is the 1st again.
    assert float(np.mean(cv2.absdiff(got[0], expected[0]))) < 6
    assert np.array_equal(got[len(expected)], got[0])
    assert source.read() is None  # closed


def test_a_file_opencv_cannot_decode_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(CameraError, match="cannot read"):
        open_source("cam", str(junk))


@pytest.mark.parametrize(
    ("scene", "state"),
    [
        ("live", "ok"),
        ("black", "black"),
        ("frozen", "frozen"),
        ("covered", "covered"),
        ("blurred", "covered"),
    ],
)
def test_health_of_each_generated_video(videos: dict[str, Path], scene: str, state: str) -> None:
    source = open_source(scene, str(videos[scene]))
    monitor = HealthMonitor()
    verdicts = [monitor.observe(source.read()) for _ in range(12)]
    source.close()
    assert verdicts[-1].state == state, verdicts[-1]
    if scene == "frozen":
        # Frozen takes frozen_after identical frames: the first four still look fine.
        assert [v.state for v in verdicts[:4]] == ["ok"] * 4


def test_folder_cycles_through_images_in_name_order(tmp_path: Path) -> None:
    for name, value in [("b.png", 80), ("a.jpg", 40), ("c.JPEG", 120)]:
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), value, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source("stills", f"folder:{tmp_path}")
    means = []
    for _ in range(6):
        frame = source.read()
        assert frame is not None and frame.shape == (60, 80, 3)
        means.append(round(float(frame.mean()) / 40))
    assert means == [1, 2, 3, 1, 2, 3]


def test_folder_picks_up_new_images_and_empty_gives_none(tmp_path: Path) -> None:
    source = open_source("stills", str(tmp_path))
    assert source.read() is None
    cv2.imwrite(str(tmp_path / "x.png"), np.full((10, 10, 3), 200, np.uint8))
    frame = source.read()
    assert frame is not None and int(frame[0, 0, 0]) == 200


def test_picamera2_follows_the_documented_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_picamera2.install(monkeypatch, cameras=2)
    source = open_source("pi-1", "picamera2:1")
    camera = fake.opened[0]
    assert camera.camera_num == 1
    assert camera.camera_config is not None
    assert camera.camera_config["main"] == {"format": "RGB888", "size": (1920, 1080)}
    monitor = HealthMonitor()
    for _ in range(6):
        frame = source.read()
        assert frame is not None and frame.shape == (1080, 1920, 3)
        verdict = monitor.observe(frame)
    assert verdict.state == "ok"
    source.close()
    assert camera.calls[:4] == ["__init__", "create_still_configuration", "configure", "start"]
    assert camera.calls[-2:] == ["stop", "close"]
    assert source.read() is None


def test_picamera2_keeps_the_bgr_layout_of_rgb888(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_picamera2.install(monkeypatch)
    source = open_source("pi", "picamera2")
    frame = source.read()
    source.close()
    assert frame is not None
    # The live scene's orange ball is B=0, G=200, R=255 in OpenCV order; it must stay so.
    expected = cv2.resize(scenes.live_frames(1)[0], (1920, 1080))
    assert float(np.mean(cv2.absdiff(frame, expected))) < 1


def test_picamera2_missing_camera_is_a_camera_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_picamera2.install(monkeypatch, cameras=1)
    with pytest.raises(CameraError, match="Pi camera 3"):
        open_source("pi", "picamera2:3")


def test_picamera2_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes `import picamera2` fail
    with pytest.raises(CameraError, match=r"apt install python3-picamera2"):
        open_source("pi", "picamera2")


def test_usb_source_without_a_device_reads_none() -> None:
    source = open_source("usb", "usb:63")  # no such V4L2 device on any test machine
    assert source.read() is None
    source.close()
