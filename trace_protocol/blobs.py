"""Photo upload over HTTP (DESIGN.md §4): the path and what the device signs for each chunk."""

from __future__ import annotations

from trace_protocol.canonical import canonical_json

PURPOSE = "ocop-blob-v1"
UPLOAD_PATH = "/api/v1/blobs/{sha256}"
PUBLIC_PATH = "/blobs/{sha256}"
MAX_CHUNK_BYTES = 1 << 20
MAX_BLOB_BYTES = 32 << 20
DEVICE_HEADER = "X-OCOP-Device"
SIGNATURE_HEADER = "X-OCOP-Signature"
# The chunk's SHA-256 (hex), which the signature covers: the server checks the signature from the
# headers alone, before it reads a byte of the body, and the bytes against this hash while it
# streams them to disk (issue 12, finding 4).
CHUNK_SHA256_HEADER = "X-OCOP-Chunk-SHA256"
OFFSET_HEADER = "Upload-Offset"
TOTAL_HEADER = "Upload-Length"


def chunk_message(device: str, sha256: str, offset: int, total: int, chunk_sha256: str) -> bytes:
    """The bytes a device signs for one upload chunk (RFC 8785 canonical JSON).

    Binding the chunk's own hash and position means a chunk cannot be replayed elsewhere; the
    server still checks the whole file's hash before it keeps the blob.
    """
    return canonical_json(
        {
            "purpose": PURPOSE,
            "device": device,
            "sha256": sha256,
            "offset": offset,
            "total": total,
            "chunk_sha256": chunk_sha256,
        }
    )
