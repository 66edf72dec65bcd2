"""Blob storage for camera photos: content-addressed, resumable uploads, behind a small interface
so that S3-compatible object storage can replace the disk (DESIGN.md §8)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


class OffsetMismatch(Exception):
    """An upload chunk that does not continue the partial file; carries the server's offset."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload continues at byte {offset}")
        self.offset = offset


class ChunkMismatch(Exception):
    """The bytes received are not the chunk the device signed (hash or length): none are kept."""


class BlobStorage(Protocol):
    def has(self, sha256: str) -> bool: ...
    def offset(self, sha256: str) -> int: ...
    def append(self, sha256: str, offset: int, data: bytes) -> int: ...
    def append_stream(
        self,
        sha256: str,
        offset: int,
        pieces: Iterable[bytes],
        chunk_sha256: str,
        length: int,
    ) -> int: ...
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
        return self.append_stream(
            sha256, offset, [data], hashlib.sha256(data).hexdigest(), len(data)
        )

    def append_stream(
        self,
        sha256: str,
        offset: int,
        pieces: Iterable[bytes],
        chunk_sha256: str,
        length: int,
    ) -> int:
        """Write ``pieces`` at ``offset`` of the partial file as they come (never the whole chunk
        in memory), checking that they are ``length`` bytes that hash to ``chunk_sha256``.

        A chunk that does not match, or whose stream breaks off, is cut off again: the partial
        file then ends where it did. One writer per file at a time (``flock``, so also across
        web worker processes); a second concurrent upload gets :class:`OffsetMismatch`.
        """
        part = self._part(sha256)
        with part.open("ab") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OffsetMismatch(part.stat().st_size) from None
            current = os.fstat(fh.fileno()).st_size
            if offset != current:
                raise OffsetMismatch(current)
            digest = hashlib.sha256()
            written = 0
            try:
                for piece in pieces:
                    written += len(piece)
                    if written > length:
                        raise ChunkMismatch(f"the chunk is longer than {length} bytes")
                    digest.update(piece)
                    fh.write(piece)
                if written != length or digest.hexdigest() != chunk_sha256:
                    raise ChunkMismatch("the chunk's bytes do not match its signed SHA-256")
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:
                fh.flush()
                fh.truncate(current)
                raise
        return current + written

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
