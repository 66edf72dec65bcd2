"""Verify and commit event chunks, idempotent on (dev, seq); quarantine what fails; make the ack.

The ack is built only after the chunk's transaction commits, so an ``upto`` the device sees is
always durable. Order per device comes from the database (the row lock on the device), not from
which ingest worker received the message: a chunk that does not start at ``head+1`` is a gap,
and the ack's ``upto`` makes the device resend.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, RowMapping, case, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from sync_server.alerts import raise_alert
from sync_server.binding import RunBinding
from sync_server.db import blob_refs, devices, events, quarantine
from sync_server.projection import body_problem, project
from trace_protocol.chain import BAD_HASH, Problem, verify_run
from trace_protocol.envelope import Event
from trace_protocol.messages import Ack, AckError, MessageError, parse_chunk
from trace_protocol.signing import load_public_key

log = logging.getLogger(__name__)

FORK = "fork"
REVOKED = "revoked"
BAD_BODY = "bad_body"
MALFORMED = "malformed"


@dataclass(frozen=True)
class IngestResult:
    ack: Ack | None
    committed: int
    quarantined: int


def ingest_chunk(engine: Engine, dev: str, payload: bytes) -> IngestResult:
    """Process one ``events`` payload from ``dev``'s topic. Never raises for bad input."""
    return ingest_chunks(engine, [(dev, payload)])[0]


def ingest_chunks(engine: Engine, items: list[tuple[str, bytes]]) -> list[IngestResult]:
    """Process several ``(dev, payload)`` chunks, of any devices, in ONE transaction.

    One commit (one fsync) for all of them: under load the commit, not the checking, is what
    limits a worker, and devices send small chunks. Each chunk runs in its own savepoint, so a
    chunk that fails unexpectedly is rolled back alone (it gets no ack: its device resends).
    Acks are returned only after the commit, so every ``upto`` is durable. Chunks of the same
    device are processed in order and see each other's effects.
    """
    results: list[IngestResult] = [IngestResult(None, 0, 0)] * len(items)
    parsed: list[tuple[int, str, list[Event]]] = []
    for i, (dev, payload) in enumerate(items):
        try:
            parsed.append((i, dev, parse_chunk(payload, dev)))
        except MessageError as exc:
            log.warning("rejected chunk from %s: %s", dev, exc)
            results[i] = _refuse_malformed(engine, dev, str(exc))
    if not parsed:
        return results
    with engine.begin() as conn:
        for i, dev, chunk in parsed:
            try:
                with conn.begin_nested():
                    results[i] = _ingest_in(conn, dev, chunk)
            except SQLAlchemyError:
                log.exception("chunk from %s rolled back; the device will resend it", dev)
    return results


def _ingest_in(conn: Connection, dev: str, chunk: list[Event]) -> IngestResult:
    """One parsed chunk inside the caller's transaction."""
    device = _lock_device(conn, dev)
    if device is None:
        log.warning("rejected chunk from unregistered device %s", dev)
        return IngestResult(ack=None, committed=0, quarantined=0)
    head, head_hash = int(device["head_seq"]), device["head_hash"]
    if device["revoked_at"] is not None:
        return _refuse_revoked(conn, device, chunk[0])
    if device["public_key"] is None:
        log.warning("rejected chunk from %s: the device has not enrolled", dev)
        return IngestResult(ack=None, committed=0, quarantined=0)
    if device["blocked_code"]:
        return IngestResult(_ack(head, device), 0, 0)
    problem, bad_event = _check_duplicates(conn, dev, [e for e in chunk if e.seq <= head])
    committed = 0
    if problem is None:
        run = _contiguous_run(chunk, head)
        if run:
            verdict = verify_run(
                run,
                dev=dev,
                public_key=load_public_key(device["public_key"]),
                prev_hash=head_hash,
            )
            accepted, problem, bad_event = _usable(conn, device, verdict.accepted)
            if problem is None:
                problem, bad_event = verdict.problem, verdict.rejected
            _commit(conn, accepted)
            committed = len(accepted)
            if accepted:
                head, head_hash = accepted[-1].seq, accepted[-1].hash
    values: dict[str, object] = {
        "head_seq": head,
        "head_hash": head_hash,
        "last_heard": time.time(),
    }
    if problem is not None:
        _quarantine(conn, dev, problem, bad_event)
        raise_alert(
            conn,
            dev,
            device["facility_code"],
            problem.code,
            f"event {problem.seq}: {problem.detail}",
        )
        values.update(
            blocked_code=problem.code, blocked_seq=problem.seq, blocked_detail=problem.detail
        )
        log.error(
            "quarantined event %s/%s: %s (%s)", dev, problem.seq, problem.code, problem.detail
        )
    conn.execute(update(devices).where(devices.c.dev_id == dev).values(**values))
    error = AckError(problem.code, problem.seq, problem.detail) if problem else None
    missing = _missing_blobs(conn, dev)
    gap = problem is None and chunk[-1].seq > head
    ack = Ack(upto=head, missing_blobs=missing, error=error, gap=gap)
    return IngestResult(ack, committed, 1 if problem else 0)


_KIND_ORDER = case(
    (blob_refs.c.kind == "thumb", 0),
    (blob_refs.c.kind == "public_thumb", 1),
    (blob_refs.c.kind == "public", 2),
    else_=3,
)


def _missing_blobs(conn: Connection, dev: str, limit: int = 20) -> list[str]:
    """Photos the device's committed events name that have not arrived: thumbnails first."""
    rows = conn.execute(
        select(blob_refs.c.sha256)
        .where(blob_refs.c.dev_id == dev, blob_refs.c.received_at.is_(None))
        .group_by(blob_refs.c.sha256)
        .order_by(func.min(_KIND_ORDER), func.min(blob_refs.c.seq))
        .limit(limit)
    )
    return [r[0] for r in rows]


def _lock_device(conn: Connection, dev: str) -> RowMapping | None:
    query = select(devices).where(devices.c.dev_id == dev).with_for_update()
    return conn.execute(query).mappings().first()


def _ack(head: int, device: RowMapping) -> Ack:
    return Ack(
        upto=head,
        error=AckError(device["blocked_code"], device["blocked_seq"], device["blocked_detail"]),
    )


def _check_duplicates(
    conn: Connection, dev: str, seen: list[Event]
) -> tuple[Problem | None, Event | None]:
    """Events at or below the head: same hash is a harmless resend, another hash is a fork."""
    if not seen:
        return None, None
    stored = dict(
        conn.execute(
            select(events.c.seq, events.c.hash).where(
                events.c.dev_id == dev, events.c.seq.in_([e.seq for e in seen])
            )
        ).all()
    )
    for e in seen:
        if stored.get(e.seq) != e.hash:
            return Problem(FORK, e.seq, "another event was already committed at this seq"), e
        if e.computed_hash() != e.hash:
            # A resend whose content no longer matches its hash: the device's journal is damaged.
            return Problem(BAD_HASH, e.seq, "resent event does not match its hash"), e
    return None, None


def _usable(
    conn: Connection, device: RowMapping, verified: list[Event]
) -> tuple[list[Event], Problem | None, Event | None]:
    """Cut the verified run at the first event whose body the projection cannot use, or that
    is not the device's to write (its facility, lots and batches: sync_server/binding.py)."""
    binding = RunBinding(conn, device)
    for i, e in enumerate(verified):
        reason = body_problem(e)
        problem = Problem(BAD_BODY, e.seq, reason) if reason else binding.problem(e)
        if problem is not None:
            return verified[:i], problem, e
    return verified, None, None


def _contiguous_run(chunk: list[Event], head: int) -> list[Event]:
    """The events that continue the committed head without a gap."""
    run: list[Event] = []
    for e in chunk:
        if e.seq <= head:
            continue
        if e.seq != head + 1 + len(run):
            break
        run.append(e)
    return run


def _commit(conn: Connection, accepted: list[Event]) -> None:
    if not accepted:
        return
    now = time.time()
    conn.execute(
        insert(events),
        [
            {
                "dev_id": e.dev,
                "seq": e.seq,
                "id": e.id,
                "type": e.type,
                "at": e.at,
                "clock": e.clock,
                "body": e.body,
                "prev": e.prev,
                "hash": e.hash,
                "sig": e.sig,
                "batch_id": _batch_of(e),
                "received_at": now,
            }
            for e in accepted
        ],
    )
    for e in accepted:
        project(conn, e)


def _batch_of(e: Event) -> str | None:
    batch = e.body.get("batch")
    return batch if isinstance(batch, str) else None


def _quarantine(conn: Connection, dev: str, problem: Problem, event: Event | None) -> None:
    conn.execute(
        insert(quarantine).values(
            dev_id=dev,
            seq=problem.seq,
            code=problem.code,
            detail=problem.detail,
            event=event.to_dict() if event else None,
            received_at=time.time(),
        )
    )


def _refuse_revoked(conn: Connection, device: RowMapping, first: Event) -> IngestResult:
    """A revoked device's later events are untrusted: kept aside, never committed."""
    dev = device["dev_id"]
    problem = Problem(REVOKED, first.seq, f"device revoked: {device['revoked_reason'] or ''}")
    _quarantine(conn, dev, problem, first)
    raise_alert(conn, dev, device["facility_code"], REVOKED, "a revoked device sent events")
    log.error("quarantined event %s/%s: device is revoked", dev, first.seq)
    ack = Ack(upto=int(device["head_seq"]), error=AckError(REVOKED, first.seq, problem.detail))
    return IngestResult(ack, 0, 1)


def _refuse_malformed(engine: Engine, dev: str, reason: str) -> IngestResult:
    """Record a payload we cannot even parse; the device is told its current position."""
    with engine.begin() as conn:
        device = _lock_device(conn, dev)
        if device is None:
            return IngestResult(None, 0, 0)
        conn.execute(
            insert(quarantine).values(
                dev_id=dev,
                seq=0,
                code=MALFORMED,
                detail=reason[:500],
                event=None,
                received_at=time.time(),
            )
        )
        head = int(device["head_seq"])
        ack = _ack(head, device) if device["blocked_code"] else Ack(upto=head)
    return IngestResult(ack, 0, 1)
