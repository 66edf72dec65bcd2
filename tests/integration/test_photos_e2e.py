"""Issue #4 acceptance: a step recorded offline with a photo reaches the consumer page as a
face-hidden public copy; an upload cut halfway resumes without corruption or duplication."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import Mosquitto, free_port
from tests.integration.harness import (
    KC_CATALOG,
    EdgeEnv,
    Processes,
    ServerEnv,
    enrol,
    make_edge,
    make_server,
    wait_until,
)
from tests.unit.camera import scenes
from trace_protocol.catalog import parse_catalog

pytestmark = pytest.mark.integration
KINDS = ("sha256", "thumb_sha256", "public_sha256", "public_thumb_sha256")


def _edge_with_camera(
    tmp: Path, server: ServerEnv, mqtt_port: int, upload: str, noise: float = 0.0
) -> EdgeEnv:
    # A worker's face in front of the line, 640x480: the public copy must hide it. Sensor noise
    # makes the JPEGs as large as a real camera's.
    video = tmp / "line.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 5, (640, 480))
    rng = np.random.default_rng(5)
    for _ in range(12):
        frame = scenes.face_scene().astype(np.float32)
        frame += rng.normal(0, noise, frame.shape) if noise else 0
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    camera = f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\nevidence = true\n'
    edge = make_edge(tmp, "kc-line-1", mqtt_port, camera + upload)
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    agent.accept_catalog(parse_catalog({**obj, "version": 1, "public_base_url": server.base_url}))
    agent.close()
    enrol(server, edge)
    return edge


def _record_step_with_photo(edge: EdgeEnv) -> dict[str, Any]:
    s = edge.touchscreen()
    r = s.post("/batches", {"product": "NM"})
    batch_path = r.headers["Location"].removeprefix(edge.url)
    # The worker marks the photo "no people", the only way it gets a public copy (issue 12 #8).
    r = s.post(f"{batch_path}/steps", {"step": "XAT", "note": "", "no_people": "1"})
    assert r.status_code == 303
    page = s.get(batch_path).text
    assert "/photos/" in page  # the worker sees the photo next to the step
    rows = edge.journal_rows("SELECT body FROM events WHERE type = 'snapshot.taken'")
    assert len(rows) == 1
    shot: dict[str, Any] = json.loads(rows[0][0])
    step = json.loads(
        edge.journal_rows("SELECT body FROM events WHERE type = 'step.recorded'")[0][0]
    )
    assert step["photos"] == [shot["sha256"]]
    return shot


def _server_file(server: ServerEnv, sha: str) -> Path:
    return server.dir / "blobs" / sha[:2] / sha[2:4] / sha


def test_offline_step_photo_reaches_the_public_page_blurred(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    mqtt_port = free_port()
    server = make_server(tmp_path, mqtt_port)
    edge = _edge_with_camera(tmp_path, server, mqtt_port, "[upload]\nbandwidth_kbps = 0\n")
    edge.run(procs)  # no broker, no server: the line keeps working
    shot = _record_step_with_photo(edge)

    broker_factory(port=mqtt_port)
    server.run(procs)
    wait_until(lambda: edge.acked() == edge.head(), 30, "the events to sync")
    for key in KINDS:
        wait_until(lambda k=key: _server_file(server, shot[k]).exists(), 30, f"the {key} file")
        data = _server_file(server, shot[key]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shot[key]
    wait_until(
        lambda: not edge.journal_rows("SELECT 1 FROM photo_files WHERE uploaded_at IS NULL"),
        20,
        "the uploads to be recorded",
    )

    lot = edge.journal_rows("SELECT lot FROM batches")[0][0]
    page = requests.get(f"{server.base_url}/01/08936123450014/10/{lot}", timeout=5).text
    assert f'src="/blobs/{shot["public_thumb_sha256"]}"' in page
    assert f'href="/blobs/{shot["public_sha256"]}"' in page
    assert shot["sha256"] not in page and shot["thumb_sha256"] not in page
    public = requests.get(f"{server.base_url}/blobs/{shot['public_sha256']}", timeout=5)
    assert public.status_code == 200 and public.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(public.content).hexdigest() == shot["public_sha256"]
    # The unblurred original and its thumbnail are never served to the public.
    for key in ("sha256", "thumb_sha256"):
        assert requests.get(f"{server.base_url}/blobs/{shot[key]}", timeout=5).status_code == 404


def test_upload_cut_halfway_resumes_without_corruption_or_duplication(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    # Small chunks at 256 kbit/s: a noisy full photo takes seconds, long enough to cut it.
    edge = _edge_with_camera(
        tmp_path, server, broker.port, "[upload]\nbandwidth_kbps = 256\nchunk_kb = 8\n", 12.0
    )
    web = server.run(procs)
    edge.run(procs)
    shot = _record_step_with_photo(edge)
    partial_dir = server.dir / "blobs" / ".partial"
    wait_until(
        lambda: any(p.stat().st_size > 0 for p in partial_dir.glob("*.part")),
        60,
        "an upload in progress",
    )
    web.send_signal(signal.SIGKILL)  # the link (and the server) die mid-file
    web.wait(10)
    kept = {p.name: p.stat().st_size for p in partial_dir.glob("*.part")}
    assert kept and all(size > 0 for size in kept.values())
    time.sleep(3)  # the outage lasts: the uploader's requests fail and it backs off
    server.run(procs)

    for key in KINDS:
        wait_until(lambda k=key: _server_file(server, shot[k]).exists(), 90, f"the {key} file")
        assert hashlib.sha256(_server_file(server, shot[key]).read_bytes()).hexdigest() == shot[key]
    assert list(partial_dir.glob("*.part")) == []
    # It resumed where the server's copy ended rather than starting over.
    log = (edge.dir / "log").read_text()
    offsets = [int(n) for n in re.findall(r"resuming upload of \w+ at byte (\d+)", log)]
    assert offsets and min(offsets) > 0
    assert server.scalar("SELECT COUNT(*) FROM blob_refs") == len(KINDS)
    assert server.scalar("SELECT COUNT(*) FROM blob_refs WHERE received_at IS NULL") == 0
