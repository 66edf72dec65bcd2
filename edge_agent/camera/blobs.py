"""Content-addressed JPEG files on the device: root/ab/cd/<sha256>.jpg, written atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")
TMP_PREFIX = ".tmp-"


class BlobStore:
    """Files named by the SHA-256 of their bytes; the name proves the content (DESIGN.md §7)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives (whether or not it is there)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a lower-case hex SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.jpg"

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> tuple[str, Path]:
        """Store ``data``; return its SHA-256 and path. Storing the same bytes again is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size == len(data):
                return sha256, path
            # Same name, other size: damaged by something outside us; the rewrite repairs it.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)
        return sha256, path

    def delete(self, sha256: str) -> None:
        """Remove the blob if it is there."""
        path = self.path(sha256)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_dir(path.parent)

    def usage_bytes(self) -> int:
        """Bytes of all files under the root, for the disk quota."""
        total = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` survive a power cut (Pis lose power)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
