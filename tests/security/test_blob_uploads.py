"""Issue 12, finding 4: an unauthenticated upload cannot make the server hold a large body.

Sizes and the signature are judged from the headers before the body is read (the signature
covers the chunk's hash, sent as a header); bodies go to disk in bounded pieces. Against a real
``ocop server run``; a real agent's photo upload is tests/integration/test_photos_e2e.py.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import free_port
from sync_server.store.db import blob_refs
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.security.net import send_head_only, status_of, vm_rss_kib
from trace_protocol import blobs as proto
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration
# Spelled out (not trace_protocol.blobs.CHUNK_SHA256_HEADER) so that this file also runs
# against servers from before the header existed, and fails there for the right reason.
CHUNK_SHA256_HEADER = "X-OCOP-Chunk-SHA256"
BIG = 200 * 1024 * 1024
PARALLEL = 4


def _server(tmp_path: Path, procs: Processes) -> tuple[ServerEnv, int]:
    server = make_server(tmp_path, free_port())
    proc = server.run(procs)
    return server, proc.pid


def _big_head(port: int, sha: str, dev: str = "kc-line-1") -> bytes:
    return (
        f"PUT /api/v1/blobs/{sha} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Length: {BIG}\r\n{proto.DEVICE_HEADER}: {dev}\r\n"
        f"{proto.OFFSET_HEADER}: 0\r\n{proto.TOTAL_HEADER}: 1000\r\n"
        f"{CHUNK_SHA256_HEADER}: {'0' * 64}\r\n"
        f"{proto.SIGNATURE_HEADER}: junk\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()


def test_oversized_upload_is_refused_before_its_body_is_sent(
    tmp_path: Path, procs: Processes
) -> None:
    server, _ = _server(tmp_path, procs)
    port = server.config.http.port
    answer, first_byte_s = send_head_only(port, _big_head(port, "a" * 64), timeout_s=5.0)
    assert status_of(answer) == 413, answer[:200]
    assert first_byte_s < 5.0


def _push_body(port: int, head: bytes, deadline: float, sent: list[int]) -> None:
    """Send ``head`` and then up to 200 MB of body until the server hangs up or time runs out."""
    piece = b"\0" * (256 << 10)
    total = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head)
            while total < BIG and time.monotonic() < deadline:
                sock.sendall(piece)
                total += len(piece)
            sock.settimeout(max(1.0, deadline - time.monotonic()))
            sock.recv(1024)  # stay until the server answers: it may still be reading the body
    except OSError:
        pass  # the server refused and closed: what it should do
    sent.append(total)


def test_parallel_200mb_uploads_keep_the_server_small(tmp_path: Path, procs: Processes) -> None:
    server, pid = _server(tmp_path, procs)
    port = server.config.http.port
    requests.get(f"{server.base_url}/healthz", timeout=5).raise_for_status()
    before = vm_rss_kib(pid)
    peak = before
    sent: list[int] = []
    deadline = time.monotonic() + 20
    threads = [
        threading.Thread(
            target=_push_body, args=(port, _big_head(port, f"{i:064x}"), deadline, sent)
        )
        for i in range(PARALLEL)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline + 5:
        peak = max(peak, vm_rss_kib(pid))
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=10)
    peak = max(peak, vm_rss_kib(pid))
    # The old server read each 200 MB body into memory (124 MB -> 847 MB for four).
    assert peak - before < 40 * 1024, f"RSS {before} KiB -> {peak} KiB"
    assert requests.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
    assert all(n < BIG for n in sent), sent  # the server hung up on every one


def _signed_put(
    server: ServerEnv,
    key: DeviceKey,
    sha: str,
    offset: int,
    total: int,
    body: bytes,
    signed_chunk_sha: str | None = None,
) -> requests.Response:
    chunk_sha = signed_chunk_sha or hashlib.sha256(body).hexdigest()
    message = proto.chunk_message("kc-line-1", sha, offset, total, chunk_sha)
    return requests.put(
        server.base_url + proto.UPLOAD_PATH.format(sha256=sha),
        data=body,
        headers={
            proto.DEVICE_HEADER: "kc-line-1",
            proto.SIGNATURE_HEADER: key.sign(message),
            CHUNK_SHA256_HEADER: chunk_sha,
            proto.OFFSET_HEADER: str(offset),
            proto.TOTAL_HEADER: str(total),
        },
        timeout=10,
    )


def test_signed_chunks_are_streamed_and_checked_against_their_signed_hash(
    tmp_path: Path, procs: Processes
) -> None:
    from sync_server.devices.registry import register_device

    server, _ = _server(tmp_path, procs)
    key = DeviceKey.generate()
    register_device(server.engine, "kc-line-1", "KC", key.public_key_b64)
    photo = bytes(range(256)) * 3000  # 768,000 bytes: two chunks
    sha = hashlib.sha256(photo).hexdigest()
    with server.engine.begin() as conn:
        conn.execute(
            blob_refs.insert().values(
                sha256=sha, dev_id="kc-line-1", kind="full", seq=1, camera="c", purpose="step"
            )
        )
    url = server.base_url + proto.UPLOAD_PATH.format(sha256=sha)
    half = 500_000
    # Bytes that are not the chunk the device signed are refused and not kept.
    wrong = _signed_put(
        server,
        key,
        sha,
        0,
        len(photo),
        b"x" * half,
        signed_chunk_sha=hashlib.sha256(photo[:half]).hexdigest(),
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "chunk_mismatch"
    assert requests.head(url, timeout=5).headers[proto.OFFSET_HEADER] == "0"
    # A junk signature is refused too, whatever the body.
    junk = requests.put(
        url,
        data=photo[:half],
        headers={
            proto.DEVICE_HEADER: "kc-line-1",
            proto.SIGNATURE_HEADER: "junk",
            CHUNK_SHA256_HEADER: hashlib.sha256(photo[:half]).hexdigest(),
            proto.OFFSET_HEADER: "0",
            proto.TOTAL_HEADER: str(len(photo)),
        },
        timeout=10,
    )
    assert junk.status_code == 403 and junk.json()["error"] == "bad_signature"
    # The device's real chunks: partial, then complete.
    first = _signed_put(server, key, sha, 0, len(photo), photo[:half])
    assert first.status_code == 202 and first.headers[proto.OFFSET_HEADER] == str(half)
    last = _signed_put(server, key, sha, half, len(photo), photo[half:])
    assert last.status_code == 201, last.text
    stored = server.dir / "blobs" / sha[:2] / sha[2:4] / sha
    assert stored.read_bytes() == photo
