"""The agent's cameras at work: health checks, scheduled snapshots, evidence photos for steps,
snapshots on request, and the photo quota. Every photo becomes a ``snapshot.taken`` event.

OpenCV and NumPy (31 MB of a Pi's memory, issue 17) are imported only when a camera is
configured: an agent without cameras never loads them (docs/cameras.md#the-camera-service).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge_agent.background import Background
from edge_agent.camera.blobs import BlobStore
from edge_agent.camera.errors import CameraError
from edge_agent.camera.verdict import OK, HealthVerdict
from edge_agent.config import CameraConfig, EdgeConfig
from edge_agent.journal import Journal
from edge_agent.photo_quota import disk_low, enforce_quota
from trace_protocol import envelope as ev
from trace_protocol.envelope import Event

if TYPE_CHECKING:
    from edge_agent.camera.health import HealthMonitor
    from edge_agent.camera.protocol import CameraSource, Frame

log = logging.getLogger(__name__)

PERIODIC, EVIDENCE, MANUAL, COMMAND = "periodic", "evidence", "manual", "command"
QUOTA_EVERY_S = 30.0
Opener = Callable[[str, str], "CameraSource"]


def open_camera(name: str, uri: str) -> CameraSource:
    """``sources.open_source``, imported on the first camera opened (it loads OpenCV)."""
    from edge_agent.camera.sources import open_source

    return open_source(name, uri)


@dataclass
class _Camera:
    config: CameraConfig
    monitor: HealthMonitor
    lock: threading.Lock = field(default_factory=threading.Lock)
    source: CameraSource | None = None
    next_health: float = 0.0
    next_snapshot: float = math.inf
    reads: int = 0


class CameraService(Background):
    thread_name = "cameras"

    def __init__(
        self,
        journal: Journal,
        config: EdgeConfig,
        store: BlobStore,
        *,
        opener: Opener = open_camera,
        on_photo: Callable[[], None] = lambda: None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.store = store
        self._open = opener
        self._on_photo = on_photo
        now = time.monotonic()
        if config.cameras:
            from edge_agent.camera.health import HealthMonitor  # loads OpenCV: cameras only
        self.cameras = {
            c.name: _Camera(
                c, HealthMonitor(), next_snapshot=now + c.interval_s if c.interval_s else math.inf
            )
            for c in config.cameras
        }
        super().__init__()
        self._next_quota = 0.0
        self.periodic_paused = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.cameras:
            super().start()

    def stop(self) -> None:
        super().stop()
        for cam in self.cameras.values():
            with cam.lock:
                if cam.source is not None:
                    cam.source.close()
                    cam.source = None

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.tick(time.monotonic())
            except Exception:  # one camera's trouble must not stop the others, or the agent
                log.exception("camera tick failed")

    def tick(self, now: float) -> None:
        """One round: check each camera that is due, take due periodic snapshots, mind the disk."""
        self.periodic_paused = disk_low(self.config.data_dir, self.config.storage.min_free_mb)
        for cam in self.cameras.values():
            snapshot_due = now >= cam.next_snapshot
            if now < cam.next_health and not snapshot_due:
                continue
            cam.next_health = now + cam.config.health_interval_s
            frame = self._read(cam)
            if snapshot_due:
                cam.next_snapshot = now + cam.config.interval_s
                if frame is not None and not self.periodic_paused:
                    self._record(cam, frame, PERIODIC, None, public=cam.config.public_periodic)
        if now >= self._next_quota:
            self._next_quota = now + QUOTA_EVERY_S
            self.enforce_quota()

    # -- capture --------------------------------------------------------------------------------
    def capture_evidence(self, batch_id: str, *, no_people: bool = False) -> list[str]:
        """Photos of the line for a step being recorded; never fails the step (DESIGN.md §7).

        They get a public copy only when the worker marked the step's photo "no people"
        (``no_people``): a face the detector misses under a mask, a cap or at an angle must
        not reach consumers (issue 12 #8). Faces found are hidden even then.
        """
        photos = []
        for cam in self.cameras.values():
            if not cam.config.evidence:
                continue
            try:
                frame = self._read(cam)
                if frame is not None:
                    shot = self._record(cam, frame, EVIDENCE, batch_id, public=no_people)
                    photos.append(shot.body["sha256"])
            except Exception as exc:  # no photo, but the step is saved (DESIGN.md §7)
                log.warning("no evidence photo from %s: %s", cam.config.name, exc)
        return photos

    def capture(self, camera: str, purpose: str, batch_id: str | None = None) -> Event | None:
        """A snapshot from the touchscreen button or a server command; None when no frame.

        No public copy: nobody vouched that the photo shows no one, and no public page shows it.
        """
        cam = self.cameras.get(camera)
        if cam is None:
            raise CameraError(f"no camera named {camera!r}")
        frame = self._read(cam)
        return None if frame is None else self._record(cam, frame, purpose, batch_id, public=False)

    def frame(self, camera: str = "") -> Frame | None:
        """A fresh frame of ``camera`` (the first one when empty), not stored: the "Quét mã"
        button reads a supplier's QR from it (issue 15). None when no frame."""
        cam = self.cameras.get(camera) if camera else next(iter(self.cameras.values()), None)
        if cam is None:
            raise CameraError(f"no camera named {camera!r}")
        return self._read(cam)

    def _read(self, cam: _Camera) -> Frame | None:
        with cam.lock:
            frame: Frame | None = None
            try:
                if cam.source is None:
                    cam.source = self._open(cam.config.name, cam.config.uri)
                frame = cam.source.read()
            except Exception as exc:  # a driver's failure must never reach the step being saved
                log.warning("camera %s: %s", cam.config.name, exc)
                if cam.source is not None:
                    cam.source.close()
                cam.source = None
            cam.monitor.observe(frame)
            cam.reads += 1
            return frame

    def _record(
        self, cam: _Camera, frame: Frame, purpose: str, batch_id: str | None, *, public: bool
    ) -> Event:
        from edge_agent.camera.snapshot import take_snapshot  # loaded since the camera opened

        snap = take_snapshot(frame, self.store, public=public)
        body: dict[str, Any] = {
            "camera": cam.config.name,
            "purpose": purpose,
            "sha256": snap.sha256,
            "thumb_sha256": snap.thumb_sha256,
            "width": snap.width,
            "height": snap.height,
        }
        if snap.public_sha256 is not None and snap.public_thumb_sha256 is not None:
            body["public_sha256"] = snap.public_sha256
            body["public_thumb_sha256"] = snap.public_thumb_sha256
        if batch_id is not None:
            body["batch"] = batch_id
        event = self.journal.append(ev.SNAPSHOT_TAKEN, body)
        self._on_photo()
        return event

    # -- state ----------------------------------------------------------------------------------
    def enforce_quota(self) -> list[str]:
        quota = self.config.storage.photo_quota_mb * 1_000_000
        with self.journal.store.write() as db:
            evicted = enforce_quota(db, self.store, quota)
        if evicted:
            log.info("photo quota: evicted %s photo(s)", len(evicted))
        return evicted

    def health(self) -> dict[str, HealthVerdict]:
        """Each camera's verdict; cameras not read yet (the agent just started) are left out."""
        return {name: cam.monitor.verdict for name, cam in self.cameras.items() if cam.reads}

    def problems(self) -> dict[str, HealthVerdict]:
        """Cameras that are not ok, for the touchscreen's warning."""
        return {name: v for name, v in self.health().items() if v.state != OK}

    def status(self) -> dict[str, Any]:
        """The cameras part of the status topic."""
        now = time.time()
        return {
            "cameras": {
                name: {
                    "state": v.state,
                    "detail": v.detail,
                    "last_frame_age_s": None
                    if v.last_frame_at is None
                    else round(now - v.last_frame_at, 1),
                }
                for name, v in self.health().items()
            },
            "periodic_paused_disk_low": self.periodic_paused,
            "photo_bytes": self.store.usage_bytes(),
        }
