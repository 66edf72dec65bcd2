"""Keep photos within their disk quota without ever losing evidence that has not reached the
server: uploaded periodic snapshots go first, then older periodic ones, then uploaded evidence."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Protocol

from sqlite_utils import Database

# Eviction order (issue #4): which photos may go, best candidates first. Evidence that has not
# been uploaded is in none of these groups, so it is never evicted.
_GROUPS = (
    # periodic snapshots whose every file reached the server
    "evidence = 0 AND photo_sha256 NOT IN"
    " (SELECT photo_sha256 FROM photo_files WHERE uploaded_at IS NULL)",
    # periodic snapshots not (fully) uploaded, oldest first
    "evidence = 0",
    # evidence whose every file reached the server: the server keeps it
    "evidence = 1 AND photo_sha256 NOT IN"
    " (SELECT photo_sha256 FROM photo_files WHERE uploaded_at IS NULL)",
)


class PhotoFiles(Protocol):
    def delete(self, sha256: str) -> None: ...
    def usage_bytes(self) -> int: ...


def enforce_quota(db: Database, store: PhotoFiles, quota_bytes: int) -> list[str]:
    """Evict whole photos (all their files) until usage is within ``quota_bytes``.

    Returns the evicted photos' sha256 in eviction order. Rows stay (marked ``evicted_at``) so the
    journal's references remain explainable and the uploader skips them.
    """
    evicted: list[str] = []
    for where in _GROUPS:
        if store.usage_bytes() <= quota_bytes:
            break
        photos = [
            r[0]
            for r in db.conn.execute(
                f"SELECT photo_sha256 FROM photo_files WHERE evicted_at IS NULL AND {where}"
                " GROUP BY photo_sha256 ORDER BY MIN(seq)"
            ).fetchall()
        ]
        for photo in photos:
            if store.usage_bytes() <= quota_bytes:
                break
            # Files this photo shares with a photo that stays (content addressing) are kept.
            files = [
                r[0]
                for r in db.conn.execute(
                    "SELECT DISTINCT sha256 FROM photo_files f WHERE photo_sha256 = ?"
                    " AND evicted_at IS NULL AND NOT EXISTS (SELECT 1 FROM photo_files o"
                    " WHERE o.sha256 = f.sha256 AND o.photo_sha256 != f.photo_sha256"
                    " AND o.evicted_at IS NULL)",
                    (photo,),
                )
            ]
            for sha in files:
                store.delete(sha)
            db.conn.execute(
                "UPDATE photo_files SET evicted_at = ? WHERE photo_sha256 = ?", (time.time(), photo)
            )
            evicted.append(photo)
    return evicted


def disk_low(path: Path, min_free_mb: int) -> bool:
    """True when the data disk is nearly full: periodic capture must stop."""
    return shutil.disk_usage(path).free < min_free_mb * 1_000_000
