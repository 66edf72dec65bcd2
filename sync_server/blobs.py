"""Blob storage for camera photos: content-addressed, resumable uploads, behind a small interface
so that S3-compatible object storage can replace the disk (DESIGN.md §8)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO, Protocol

SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


class OffsetMismatch(Exception):
    """An upload chunk that does not continue the partial file; carries the server's offset."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload continues at byte {offset}")
        self.offset = offset


class BlobStorage(Protocol):
    def has(self, sha256: str) -> bool: ...
    def offset(self, sha256: str) -> int: ...
    def append(self, sha256: str, offset: int, data: bytes) -> int: ...
    def finish(self, sha256: str) -> bool: ...
    def open(self, sha256: str) -> BinaryIO: ...


class FileBlobStorage:
    """Blobs as files ``root/ab/cd/<sha256>``; partial uploads in ``root/.partial``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".partial").mkdir(parents=True, exist_ok=True)

    def _final(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise ValueError("not a sha256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _part(self, sha256: str) -> Path:
        self._final(sha256)
        return self.root / ".partial" / f"{sha256}.part"

    def has(self, sha256: str) -> bool:
        return self._final(sha256).exists()

    def offset(self, sha256: str) -> int:
        if self.has(sha256):
            return self._final(sha256).stat().st_size
        part = self._part(sha256)
        return part.stat().st_size if part.exists() else 0

    def append(self, sha256: str, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` of the partial file, which must end exactly there."""
        part = self._part(sha256)
        current = part.stat().st_size if part.exists() else 0
        if offset != current:
            raise OffsetMismatch(current)
        with part.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return current + len(data)

    def finish(self, sha256: str) -> bool:
        """Check the partial file's hash; move it into place when it matches, drop it if not."""
        part = self._part(sha256)
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 16), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            part.unlink()
            return False
        final = self._final(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, final)
        return True

    def open(self, sha256: str) -> BinaryIO:
        return self._final(sha256).open("rb")
