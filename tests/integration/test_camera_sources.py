"""A camera that streams MJPEG over HTTP (served here on 127.0.0.1), then dies and comes back.

The server is the kind of cheap IP camera facilities already have: one GET answered with
``multipart/x-mixed-replace`` and a JPEG per part, forever. It is read through open_source with
OpenCV's FFMPEG backend; after the server stops, read() must give None (within its timeout) and
the monitor no_frames; after it starts again on the same port, frames flow without reopening.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge_agent.camera.cli import register
from edge_agent.camera.health import NO_FRAMES, OK, HealthMonitor
from edge_agent.camera.snapshot import encode_jpeg
from edge_agent.camera.sources import open_source
from tests.unit.camera import scenes

pytestmark = pytest.mark.integration

BOUNDARY = "ocopframe"
FRAME_INTERVAL_S = 0.05
TIMEOUT_S = 1.0  # the sources' open/read timeout: a dead stream costs this per read
MAX_READS = 40  # bound on every wait loop below: 40 reads x TIMEOUT_S at the very worst


class MjpegCamera:
    """An HTTP server on 127.0.0.1 streaming ``jpegs`` in a loop to every client."""

    def __init__(self, jpegs: list[bytes], port: int = 0) -> None:
        self.jpegs = jpegs
        self.stopped = threading.Event()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                i = 0
                try:
                    while not camera.stopped.is_set():
                        jpeg = camera.jpegs[i % len(camera.jpegs)]
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        i += 1
                        time.sleep(FRAME_INTERVAL_S)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_jpegs() -> list[bytes]:
    return [encode_jpeg(frame) for frame in scenes.live_frames(8)]


@pytest.fixture
def camera(live_jpegs: list[bytes]) -> Iterator[MjpegCamera]:
    cam = MjpegCamera(live_jpegs)
    yield cam
    cam.stop()


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_mjpeg_stream_dies_gives_no_frames_then_recovers(
    camera: MjpegCamera, live_jpegs: list[bytes]
) -> None:
    source = open_source("gate", camera.url, timeout_s=TIMEOUT_S)
    monitor = HealthMonitor()
    try:
        frames = 0
        for _ in range(MAX_READS):
            frame = source.read()
            verdict = monitor.observe(frame)
            if frame is not None:
                assert frame.shape == (240, 320, 3)
                frames += 1
            if frames == 8:
                break
        assert frames == 8 and verdict.state == OK, verdict

        camera.stop()
        for _ in range(MAX_READS):
            verdict = monitor.observe(source.read())
            if verdict.state == NO_FRAMES:
                break
        assert verdict.state == NO_FRAMES, verdict
        assert source.read() is None

        assert _port_is_free(camera.port)
        back = MjpegCamera(live_jpegs, port=camera.port)
        try:
            for _ in range(MAX_READS):
                verdict = monitor.observe(source.read())
                if verdict.state == OK:
                    break
            assert verdict.state == OK, verdict
        finally:
            back.stop()
    finally:
        source.close()


def _check(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    parser = argparse.ArgumentParser(prog="ocop camera")
    register(parser)
    args = parser.parse_args(["check", url, "--timeout", str(TIMEOUT_S)])
    code = args.func(args)
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return code, report


def test_check_on_a_live_and_a_frozen_http_camera(
    camera: MjpegCamera, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _check(camera.url, capsys)
    assert (code, report["state"], report["frames"]) == (0, "ok", 12)

    frozen = MjpegCamera([camera.jpegs[0]])
    try:
        code, report = _check(frozen.url, capsys)
    finally:
        frozen.stop()
    assert (code, report["state"]) == (1, "frozen")


def test_check_on_a_camera_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, report = _check(f"http://127.0.0.1:{port}/stream.mjpg", capsys)
    assert (code, report["state"], report["frames"]) == (1, "no_frames", 0)
