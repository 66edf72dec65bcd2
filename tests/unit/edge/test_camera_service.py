"""The agent's cameras with real video files: schedule, evidence on steps, health, quota."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from edge_agent import batches
from edge_agent.camera.blobs import BlobStore
from edge_agent.camera.sources import open_source
from edge_agent.camera_service import COMMAND, EVIDENCE, MANUAL, PERIODIC, CameraService
from edge_agent.config import CameraConfig, EdgeConfig, StorageConfig
from edge_agent.journal import Journal
from edge_agent.photo_quota import enforce_quota
from tests.unit.camera import scenes
from trace_protocol.catalog import Catalog


def _config(tmp_path: Path, **camera: object) -> EdgeConfig:
    video = scenes.write_video(tmp_path / "line.avi", scenes.live_frames(24))
    cam = CameraConfig(name="day-chuyen", uri=f"file:{video}", **camera)  # type: ignore[arg-type]
    return EdgeConfig(device_id="kc-test-1", data_dir=tmp_path, cameras=(cam,))


def _service(journal: Journal, config: EdgeConfig) -> CameraService:
    return CameraService(journal, config, BlobStore(config.photo_dir), opener=open_source)


def _snapshots(journal: Journal) -> list[dict[str, object]]:
    return [e.body for e in journal.events_after(0, 1000) if e.type == "snapshot.taken"]


def test_periodic_snapshots_follow_the_schedule(tmp_path: Path, journal: Journal) -> None:
    service = _service(journal, _config(tmp_path, interval_s=60.0, health_interval_s=5.0))
    start = time.monotonic()
    for offset in (0.0, 30.0, 59.0):
        service.tick(start + offset)
    assert _snapshots(journal) == []
    service.tick(start + 61.0)
    service.tick(start + 100.0)
    service.tick(start + 125.0)
    shots = _snapshots(journal)
    assert [s["purpose"] for s in shots] == [PERIODIC, PERIODIC]
    # Periodic surveillance is private unless the facility opts in: no public copy.
    assert all("public_sha256" not in s for s in shots)
    assert all(service.store.has(str(s["sha256"])) for s in shots)
    service.stop()


def test_a_recorded_step_carries_its_evidence_photo(
    tmp_path: Path, journal: Journal, catalog: Catalog
) -> None:
    service = _service(journal, _config(tmp_path))
    opened = batches.open_batch(journal, catalog, "NM", "")
    batch_id = opened.body["batch"]
    step = batches.record_step(
        journal,
        catalog,
        batch_id,
        "XAT",
        {},
        "",
        photos=lambda: service.capture_evidence(batch_id, no_people=True),
    )
    (shot,) = _snapshots(journal)
    assert shot["purpose"] == EVIDENCE and shot["batch"] == batch_id
    assert step.body["photos"] == [shot["sha256"]]
    # Marked "no people": a face-hidden public copy and its thumbnail for the consumer page.
    for key in ("sha256", "thumb_sha256", "public_sha256", "public_thumb_sha256"):
        path = service.store.path(str(shot[key]))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shot[key]
    # An invalid step takes no photo.
    with pytest.raises(batches.DomainError):
        batches.record_step(
            journal,
            catalog,
            batch_id,
            "SAY",
            {"nhiet_do": "900"},
            "",
            photos=lambda: service.capture_evidence(batch_id),
        )
    assert len(_snapshots(journal)) == 1
    service.stop()


def test_only_photos_marked_no_people_get_a_public_copy(
    tmp_path: Path, journal: Journal, catalog: Catalog
) -> None:
    # The conservative rule for faces the detector misses (issue 12 #8): without the worker's
    # "no people" mark a step photo, a button photo or a commanded one stays private.
    service = _service(journal, _config(tmp_path))
    batch_id = batches.open_batch(journal, catalog, "NM", "").body["batch"]
    batches.record_step(
        journal, catalog, batch_id, "XAT", {}, "", photos=lambda: service.capture_evidence(batch_id)
    )
    service.capture("day-chuyen", MANUAL, batch_id)
    service.capture("day-chuyen", COMMAND)
    shots = _snapshots(journal)
    assert [s["purpose"] for s in shots] == [EVIDENCE, MANUAL, COMMAND]
    for shot in shots:
        assert "public_sha256" not in shot and "public_thumb_sha256" not in shot
    service.capture_evidence(batch_id, no_people=True)
    assert "public_sha256" in _snapshots(journal)[-1]
    service.stop()


def test_a_black_camera_is_reported_and_the_step_is_still_saved(
    tmp_path: Path, journal: Journal, catalog: Catalog
) -> None:
    video = scenes.write_video(tmp_path / "black.avi", scenes.black_frames(12))
    cam = CameraConfig(name="kho", uri=f"file:{video}")
    service = _service(
        journal, EdgeConfig(device_id="kc-test-1", data_dir=tmp_path, cameras=(cam,))
    )
    start = time.monotonic()
    for i in range(3):
        service.tick(start + 10.0 * (i + 1))
    assert service.problems()["kho"].state == "black"
    assert service.status()["cameras"]["kho"]["state"] == "black"
    broken = CameraConfig(name="cong", uri="file:/nonexistent/video.avi")
    service2 = _service(
        journal, EdgeConfig(device_id="kc-test-1", data_dir=tmp_path, cameras=(broken,))
    )
    batch_id = batches.open_batch(journal, catalog, "NM", "").body["batch"]
    step = batches.record_step(
        journal,
        catalog,
        batch_id,
        "XAT",
        {},
        "",
        photos=lambda: service2.capture_evidence(batch_id),
    )
    assert step.body["photos"] == []
    assert service2.problems()["cong"].state == "no_frames"
    service.stop()
    service2.stop()


def test_quota_evicts_uploaded_periodic_first_and_never_unsent_evidence(
    tmp_path: Path, journal: Journal, catalog: Catalog
) -> None:
    config = _config(tmp_path, interval_s=1.0)
    service = _service(journal, config)
    batch_id = batches.open_batch(journal, catalog, "NM", "").body["batch"]
    start = time.monotonic()
    service.tick(start + 2)  # periodic #1 (will be uploaded)
    evidence = service.capture_evidence(batch_id)[0]  # evidence, never uploaded
    service.tick(start + 4)  # periodic #2 (not uploaded)
    service.tick(start + 6)  # periodic #3 (not uploaded)
    p1, p2, p3 = [s["sha256"] for s in _snapshots(journal) if s["purpose"] == PERIODIC]
    journal.store.writer.conn.execute(
        "UPDATE photo_files SET uploaded_at = 1 WHERE photo_sha256 = ?", (p1,)
    )
    files = {
        r[0]: r[1]
        for r in journal.store.writer.conn.execute("SELECT sha256, photo_sha256 FROM photo_files")
    }
    sizes = {sha: service.store.path(sha).stat().st_size for sha in files}

    def photo_bytes(photo: object) -> int:
        return sum(size for sha, size in sizes.items() if files[sha] == photo)

    # Room for everything but about one and a half periodic snapshots.
    quota = service.store.usage_bytes() - photo_bytes(p1) - photo_bytes(p2) // 2

    evicted = enforce_quota(journal.store.writer, service.store, quota)
    assert evicted == [p1, p2]  # the uploaded periodic one first, then the oldest periodic
    assert service.store.usage_bytes() <= quota
    for sha, photo in files.items():
        assert service.store.has(sha) == (photo not in (p1, p2))
    assert photo_bytes(evidence) > 0 and all(
        service.store.has(sha) for sha, photo in files.items() if photo == evidence
    )
    # Even a quota of zero never evicts evidence that has not reached the server.
    enforce_quota(journal.store.writer, service.store, 0)
    assert all(service.store.has(sha) for sha, photo in files.items() if photo == evidence)
    assert not service.store.has(str(p3))
    service.stop()


def test_periodic_capture_pauses_when_the_disk_is_nearly_full(
    tmp_path: Path, journal: Journal
) -> None:
    video = scenes.write_video(tmp_path / "line.avi", scenes.live_frames(12))
    cam = CameraConfig(name="day-chuyen", uri=f"file:{video}", interval_s=1.0)
    huge = 10**12  # MB: no disk has that much free
    config = EdgeConfig(
        device_id="kc-test-1",
        data_dir=tmp_path,
        cameras=(cam,),
        storage=StorageConfig(min_free_mb=huge),
    )
    service = _service(journal, config)
    start = time.monotonic()
    for i in range(1, 4):
        service.tick(start + 2.0 * i)
    assert _snapshots(journal) == []
    assert service.status()["periodic_paused_disk_low"] is True
    # Evidence is still taken: the journal and its proof keep working.
    assert len(service.capture_evidence("b")) == 1
    service.stop()


def test_a_server_command_takes_a_snapshot(tmp_path: Path) -> None:
    from edge_agent.agent import open_agent
    from trace_protocol.messages import SNAPSHOT, Command

    config = _config(tmp_path)
    agent = open_agent(config, with_sync=False)
    agent.on_command(Command(SNAPSHOT, {"camera": "day-chuyen"}))
    agent.on_command(Command(SNAPSHOT, {"camera": "no-such-camera"}))  # logged, not raised
    (shot,) = _snapshots(agent.journal)
    assert shot["purpose"] == "command" and "batch" not in shot
    agent.cameras.stop()
    agent.close()
