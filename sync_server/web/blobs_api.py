"""Photo uploads from devices (signed, resumable, idempotent) and public photo downloads."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from sync_server.store.blobs import SHA256_RE, ChunkMismatch, OffsetMismatch
from sync_server.store.db import blob_refs, devices, reading
from sync_server.web.context import engine
from sync_server.web.context import storage as blob_storage
from trace_protocol import blobs as proto
from trace_protocol.signing import load_public_key, verify_signature

log = logging.getLogger(__name__)
bp = Blueprint("blobs", __name__)
PUBLIC_KINDS = ("public", "public_thumb")
READ_BYTES = 64 << 10  # an upload's body goes to disk in pieces of this size


def _error(status: int, code: str, message: str, offset: int | None = None) -> ResponseReturnValue:
    resp = jsonify(error=code, message=message)
    resp.status_code = status
    if offset is not None:
        resp.headers[proto.OFFSET_HEADER] = str(offset)
    return resp


@bp.route("/api/v1/blobs/<sha256>", methods=["HEAD"])
def blob_offset(sha256: str) -> ResponseReturnValue:
    """How much of a blob the server holds: 200 when complete, 404 with the partial offset."""
    if not SHA256_RE.match(sha256):
        return Response(status=400)
    storage = blob_storage()
    if storage.has(sha256):
        # Also for a file kept from before (e.g. after a database restore): its refs are met.
        return _done(sha256, 200)
    resp = Response(status=404)
    resp.headers[proto.OFFSET_HEADER] = str(storage.offset(sha256))
    return resp


@bp.put("/api/v1/blobs/<sha256>")
def upload(sha256: str) -> ResponseReturnValue:
    """One signed chunk. Everything that can be judged from the headers (sizes, device,
    signature, whether the blob is wanted) is judged before a byte of the body is read; the
    body then goes to disk in pieces of ``READ_BYTES``, checked against the signed chunk hash
    (issue 12, finding 4)."""
    if not SHA256_RE.match(sha256):
        return _error(400, "bad_hash", "the path must end in a sha256")
    dev = request.headers.get(proto.DEVICE_HEADER, "")
    chunk_sha256 = request.headers.get(proto.CHUNK_SHA256_HEADER, "")
    try:
        offset = int(request.headers.get(proto.OFFSET_HEADER, ""))
        total = int(request.headers.get(proto.TOTAL_HEADER, ""))
    except ValueError:
        return _error(400, "bad_request", f"{proto.OFFSET_HEADER} and {proto.TOTAL_HEADER} needed")
    if not SHA256_RE.match(chunk_sha256):
        return _error(400, "bad_request", f"{proto.CHUNK_SHA256_HEADER} needed (hex SHA-256)")
    length = request.content_length
    if length is None:
        return _error(411, "length_required", "Content-Length needed")
    if length > proto.MAX_CHUNK_BYTES or not 0 < total <= proto.MAX_BLOB_BYTES:
        return _error(413, "too_large", "chunk or blob too large")
    if offset < 0 or offset + length > total:
        return _error(400, "bad_range", "the chunk does not fit in the blob")
    with reading(engine()) as conn:
        device = conn.execute(
            select(devices.c.public_key, devices.c.revoked_at).where(devices.c.dev_id == dev)
        ).first()
        referenced = conn.execute(
            select(blob_refs.c.sha256).where(
                blob_refs.c.dev_id == dev, blob_refs.c.sha256 == sha256
            )
        ).first()
    if device is None or device.public_key is None or device.revoked_at is not None:
        return _error(403, "unknown_device", "unknown, unenrolled or revoked device")
    message = proto.chunk_message(dev, sha256, offset, total, chunk_sha256)
    signature = request.headers.get(proto.SIGNATURE_HEADER, "")
    if not verify_signature(load_public_key(device.public_key), message, signature):
        return _error(403, "bad_signature", "the chunk is not signed by the device")
    if referenced is None:
        # Only photos that a committed snapshot.taken event names: upload after the ack.
        return _error(404, "unknown_blob", "no committed event of this device names this blob")
    storage = blob_storage()
    if storage.has(sha256):
        return _done(sha256, 200)
    stream = request.stream
    pieces = iter(lambda: stream.read(READ_BYTES), b"")
    try:
        end = storage.append_stream(sha256, offset, pieces, chunk_sha256, length)
    except OffsetMismatch as exc:
        return _error(409, "offset_mismatch", str(exc), exc.offset)
    except ChunkMismatch as exc:
        return _error(400, "chunk_mismatch", str(exc), storage.offset(sha256))
    if end < total:
        resp = jsonify(status="partial")
        resp.status_code = 202
        resp.headers[proto.OFFSET_HEADER] = str(end)
        return resp
    if not storage.finish(sha256):
        log.warning("blob %s from %s did not match its hash; dropped", sha256, dev)
        return _error(422, "hash_mismatch", "the uploaded bytes do not match the sha256", 0)
    return _done(sha256, 201)


def _done(sha256: str, status: int) -> ResponseReturnValue:
    with engine().begin() as conn:
        conn.execute(
            update(blob_refs)
            .where(blob_refs.c.sha256 == sha256, blob_refs.c.received_at.is_(None))
            .values(received_at=time.time())
        )
    resp = jsonify(status="complete")
    resp.status_code = status
    resp.headers[proto.OFFSET_HEADER] = str(blob_storage().offset(sha256))
    return resp


@bp.get("/blobs/<sha256>")
def public_blob(sha256: str) -> ResponseReturnValue:
    """A photo a consumer may see: only face-blurred public derivatives, never the originals."""
    if not SHA256_RE.match(sha256):
        return Response(status=404)
    with reading(engine()) as conn:
        public = conn.execute(
            select(blob_refs.c.sha256).where(
                blob_refs.c.sha256 == sha256, blob_refs.c.kind.in_(PUBLIC_KINDS)
            )
        ).first()
    if public is None or not blob_storage().has(sha256):
        return Response(status=404)
    resp = send_file(blob_storage().open(sha256), mimetype="image/jpeg", max_age=31536000)
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return resp
