"""Upload photo files after their ``snapshot.taken`` event is acked: signed, resumable,
idempotent, thumbnails first, within a bandwidth budget (DESIGN.md §4)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import requests

from edge_agent.background import Background
from edge_agent.config import EdgeConfig
from edge_agent.journal import Journal
from trace_protocol import blobs as proto

log = logging.getLogger(__name__)

_ORDER = "CASE kind WHEN 'thumb' THEN 0 WHEN 'public_thumb' THEN 1 WHEN 'public' THEN 2 ELSE 3 END"


class UploadError(Exception):
    """The server refused an upload in a way retrying will not fix soon."""


class PhotoPaths(Protocol):
    def path(self, sha256: str) -> Path: ...


class Uploader(Background):
    thread_name = "upload"

    def __init__(
        self,
        journal: Journal,
        config: EdgeConfig,
        files: PhotoPaths,
        base_url: Callable[[], str | None],
        session: requests.Session | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.files = files
        self._base_url = base_url
        self.session = session or requests.Session()
        self.last_error = ""
        super().__init__()

    def _loop(self) -> None:
        delay = 2.0
        while not self._stop.is_set():
            self._sleep(delay)
            try:
                self.upload_pending()
                self.last_error, delay = "", 2.0
            except (requests.RequestException, UploadError, OSError) as exc:
                self.last_error = str(exc)
                delay = min(60.0, delay * 2)
                log.info("photo upload paused (%s); retrying in %.0fs", exc, delay)

    def pending(self, limit: int = 50) -> list[str]:
        """Files whose event the server acked but which it does not hold yet, thumbnails first."""
        acked = self.journal.sync_state().acked
        with self.journal.store.read() as db:
            rows = db.conn.execute(
                "SELECT sha256 FROM photo_files WHERE uploaded_at IS NULL AND evicted_at IS NULL"
                f" AND seq <= ? GROUP BY sha256 ORDER BY MIN({_ORDER}), MIN(seq) LIMIT ?",
                (acked, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def upload_pending(self) -> int:
        done = 0
        while not self._stop.is_set():
            batch = self.pending()
            if not batch:
                break
            uploaded: list[str] = []
            try:
                for sha in batch:
                    if self._stop.is_set():
                        return done
                    if not self.upload_one(sha):
                        return done  # the server does not know it yet: try again later
                    uploaded.append(sha)
                    done += 1
            finally:
                # One transaction for the batch (a photo and its thumbnail): each file's own
                # cost two WAL pages (issue 17). A crash before it only means a HEAD again.
                self._mark_uploaded(uploaded)
        return done

    def upload_one(self, sha256: str) -> bool:
        """Send one file from where the server's copy ends; True once the server holds it."""
        base = self._base_url()
        if not base:
            raise UploadError("no server URL yet (no catalog)")
        url = base.rstrip("/") + proto.UPLOAD_PATH.format(sha256=sha256)
        data = self.files.path(sha256).read_bytes()
        head = self.session.head(url, timeout=15)
        if head.status_code == 200:
            return True
        offset = int(head.headers.get(proto.OFFSET_HEADER, "0") or 0)
        if offset:
            log.info("resuming upload of %s at byte %s", sha256[:12], offset)
        chunk_size = self.config.upload.chunk_kb * 1024
        while offset < len(data):
            chunk = data[offset : offset + chunk_size]
            resp = self.session.put(
                url, data=chunk, headers=self._headers(sha256, offset, len(data), chunk), timeout=30
            )
            self._pace(len(chunk))
            if resp.status_code in (200, 201):
                return True
            if resp.status_code in (202, 409):
                offset = int(resp.headers.get(proto.OFFSET_HEADER, "0"))
                continue
            if resp.status_code == 404:
                return False
            if resp.status_code == 422:  # the server's partial copy was bad: start over
                offset = 0
                continue
            raise UploadError(f"server answered {resp.status_code}: {resp.text[:200]}")
        return True

    def _headers(self, sha256: str, offset: int, total: int, chunk: bytes) -> dict[str, str]:
        chunk_sha256 = hashlib.sha256(chunk).hexdigest()
        message = proto.chunk_message(self.journal.dev, sha256, offset, total, chunk_sha256)
        return {
            proto.DEVICE_HEADER: self.journal.dev,
            proto.SIGNATURE_HEADER: self.journal.key.sign(message),
            proto.CHUNK_SHA256_HEADER: chunk_sha256,
            proto.OFFSET_HEADER: str(offset),
            proto.TOTAL_HEADER: str(total),
            "Content-Type": "application/octet-stream",
        }

    def _pace(self, sent: int) -> None:
        kbps = self.config.upload.bandwidth_kbps
        if kbps > 0:
            self._stop.wait(sent * 8 / (kbps * 1000))

    def _mark_uploaded(self, shas: list[str]) -> None:
        if not shas:
            return
        now = time.time()
        with self.journal.store.write() as db:
            db.conn.executemany(
                "UPDATE photo_files SET uploaded_at = ? WHERE sha256 = ?", [(now, s) for s in shas]
            )

    def server_misses(self, shas: list[str]) -> None:
        """The server's ack says it lacks these: upload them again if we still have them."""
        if not shas:
            return
        marks = ",".join("?" * len(shas))
        with self.journal.store.write() as db:
            db.conn.execute(
                f"UPDATE photo_files SET uploaded_at = NULL WHERE evicted_at IS NULL"
                f" AND uploaded_at IS NOT NULL AND sha256 IN ({marks})",
                shas,
            )
        self._wake.set()
