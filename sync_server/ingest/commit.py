"""Verify and commit event chunks, idempotent on (dev, seq); quarantine what fails; make the ack.

The ack is built only after the chunk's transaction commits, so an ``upto`` the device sees is
always durable. Order per device comes from the database (the row lock on the device), not from
which ingest worker received the message: a chunk that does not start at ``head+1`` is a gap,
and the ack's ``upto`` makes the device resend.

What does not verify under the device's own key is not the device's (issue 12, finding 2): a
broker password is enough to publish on its topic, not to sign. Such events (a bad hash, a bad
signature, a "fork" or "chain break" nobody signed) and payloads that do not even parse are
counted per device (sync_server/ingest/rejects.py), never committed, never quarantined one row each,
never a block and never an ack to the device; the real event for that seq is accepted when it
comes. Only what the device's key signed can block it: a fork, a chain break, an event naming
another device, or an event the projection or binding refuses.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, RowMapping, case, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from sync_server.ingest.binding import RunBinding
from sync_server.ingest.continued import move_projection
from sync_server.ingest.projection import body_problem, project
from sync_server.ingest.rejects import FORGED, record_reject
from sync_server.ingest.rejects import MALFORMED as MALFORMED_KIND
from sync_server.store.alerts import raise_alert
from sync_server.store.db import blob_refs, devices, events, quarantine
from trace_protocol.chain import BAD_HASH, BAD_SIGNATURE, Problem, verify_run
from trace_protocol.envelope import Event
from trace_protocol.messages import Ack, AckError, MessageError, parse_chunk
from trace_protocol.signing import load_public_key, verify_signature

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
    rejected: int = 0  # counted as not the device's (sync_server/ingest/rejects.py)


def ingest_chunk(engine: Engine, dev: str, payload: bytes) -> IngestResult:
    """Process one ``events`` payload from ``dev``'s topic. Never raises for bad input."""
    return ingest_chunks(engine, [(dev, payload)])[0]


def ingest_chunks(engine: Engine, items: list[tuple[str, bytes]]) -> list[IngestResult]:
    """Process several ``(dev, payload)`` chunks, of any devices, in ONE transaction.

    One commit (one fsync) for all of them: under load the commit, not the checking, is what
    limits a worker, and devices send small chunks. Acks are returned only after the commit,
    so every ``upto`` is durable. The payloads are parsed before the write lock is taken.
    """
    parsed = parse_chunks(items)
    with engine.begin() as conn:
        return ingest_parsed(conn, parsed)


ParsedChunk = tuple[str, bytes, list[Event] | str]


def parse_chunks(items: list[tuple[str, bytes]]) -> list[ParsedChunk]:
    """Each ``(dev, payload)`` with its events, or why it does not parse: CPU work that needs
    no database, done before a transaction takes the write lock."""
    return [(dev, payload, _parse(dev, payload)) for dev, payload in items]


def ingest_parsed(conn: Connection, items: list[ParsedChunk]) -> list[IngestResult]:
    """Commit parsed chunks inside the caller's transaction (the ingest worker's batch, which
    also holds its status messages): nothing here is durable until the caller commits, so
    acks go out only after that.

    Each chunk runs in its own savepoint, so a chunk that fails unexpectedly is rolled back
    alone (it gets no ack: its device resends). Chunks of the same device are processed in
    order of their first seq (a chunk that overtook its predecessor on the way still lands when
    both are in one batch) and see each other's effects. Devices are taken in the order of
    their ids: two workers committing chunks of the same devices then lock the device rows in
    the same order, and PostgreSQL never sees them deadlock.
    """
    results: list[IngestResult] = [IngestResult(None, 0, 0)] * len(items)
    order = sorted(range(len(items)), key=lambda i: (items[i][0], _first_seq(items[i][2])))
    for i in order:
        dev, payload, chunk = items[i]
        try:
            with conn.begin_nested():
                if isinstance(chunk, str):
                    results[i] = _refuse_malformed(conn, dev, chunk, payload)
                else:
                    results[i] = _ingest_in(conn, dev, chunk)
        except SQLAlchemyError:
            log.exception("chunk from %s rolled back; the device will resend it", dev)
        except Exception as exc:  # one chunk's surprise must never cost its neighbours
            log.error("chunk from %s rolled back: %s: %s", dev, type(exc).__name__, exc)
    return results


def _first_seq(chunk: list[Event] | str) -> int:
    return chunk[0].seq if isinstance(chunk, list) and chunk else 0


def _parse(dev: str, payload: bytes) -> list[Event] | str:
    """The chunk's events, or why it does not parse. Each event's content hash is worked out
    here too (kept on the event), outside the write transaction: about a third of the time
    spent inside it in `make bench`'s ingest profile (docs/load-test.md, third round)."""
    try:
        events = parse_chunk(payload, dev)
        for e in events:
            e.computed_hash()
        return events
    except MessageError as exc:
        return str(exc)
    except Exception as exc:  # parse_chunk raises nothing else; if it did, this chunk alone pays
        return f"unparseable: {type(exc).__name__}"


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
    key = load_public_key(device["public_key"])
    seen = [e for e in chunk if e.seq <= head]
    problem, bad_event, forged = _check_duplicates(conn, dev, seen, key)
    signed = problem is not None  # a fork is reported only when the device's key signed it
    committed = 0
    if problem is None:
        run = _contiguous_run(chunk, head)
        if run:
            verdict = verify_run(run, dev=dev, public_key=key, prev_hash=head_hash)
            # Everything _usable sees is verified: its problems are the device's own.
            accepted, problem, bad_event, binding = _usable(conn, device, verdict.accepted)
            signed = problem is not None
            if problem is None:
                problem, bad_event = verdict.problem, verdict.rejected
                signed = problem is not None and signed_by(bad_event, key)
            _commit(conn, accepted, binding)
            committed = len(accepted)
            if accepted:
                head, head_hash = accepted[-1].seq, accepted[-1].hash
    if problem is None and chunk[-1].seq > head and not signed_by(chunk[-1], key):
        # Past a gap nothing can be linked yet, but a gap ack makes the device resend: only
        # the device's own signed event may cause one.
        bad_event = chunk[-1]
        code = BAD_HASH if bad_event.computed_hash() != bad_event.hash else BAD_SIGNATURE
        problem, signed = Problem(code, bad_event.seq, "event beyond a gap does not verify"), False
    if problem is not None and not signed:
        # bad_hash and bad_signature never are the device's; a fork, chain break or wrong
        # device is only when its key signed that very event (docs/protocol.md).
        forged.append((problem, bad_event))
        problem = None
    rejected = 1 if forged else 0
    if forged:
        _reject_forged(conn, device, *forged[0])
    if forged and problem is None and committed == 0:
        # Nothing of the device's in it: no ack, and the device was not heard from.
        return IngestResult(None, 0, 0, rejected)
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
    gap = problem is None and rejected == 0 and chunk[-1].seq > head
    ack = Ack(upto=head, missing_blobs=missing, error=error, gap=gap)
    return IngestResult(ack, committed, 1 if problem else 0, rejected)


def signed_by(e: Event | None, key: Ed25519PublicKey) -> bool:
    """True when ``e`` is exactly what the device's key signed: its hash matches its content
    and its signature of that hash verifies."""
    return (
        e is not None
        and e.computed_hash() == e.hash
        and verify_signature(key, bytes.fromhex(e.hash), e.sig)
    )


def _reject_forged(
    conn: Connection, device: RowMapping, problem: Problem, event: Event | None
) -> None:
    record_reject(
        conn,
        device["dev_id"],
        device["facility_code"],
        FORGED,
        problem.code,
        f"event {problem.seq}: {problem.detail}",
        event.to_dict() if event else None,
    )


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
    conn: Connection, dev: str, seen: list[Event], key: Ed25519PublicKey
) -> tuple[Problem | None, Event | None, list[tuple[Problem, Event | None]]]:
    """Events at or below the head: the same event again is a harmless resend; another event
    signed by the device's key is a fork (the problem returned). Anything else is not the
    device's and is returned in the list, to be counted and skipped: an unsigned "fork", or a
    resend whose content no longer matches its hash (a damaged journal row looks the same as
    a forgery that copied a committed hash and signature; the server keeps the good copy)."""
    forged: list[tuple[Problem, Event | None]] = []
    if not seen:
        return None, None, forged
    stored = dict(
        conn.execute(
            select(events.c.seq, events.c.hash).where(
                events.c.dev_id == dev, events.c.seq.in_([e.seq for e in seen])
            )
        ).all()
    )
    for e in seen:
        if stored.get(e.seq) != e.hash:
            problem = Problem(FORK, e.seq, "another event was already committed at this seq")
            if signed_by(e, key):
                return problem, e, forged
            forged.append((problem, e))
        elif e.computed_hash() != e.hash:
            forged.append((Problem(BAD_HASH, e.seq, "resent event does not match its hash"), e))
    return None, None, forged


def _usable(
    conn: Connection, device: RowMapping, verified: list[Event]
) -> tuple[list[Event], Problem | None, Event | None, RunBinding]:
    """Cut the verified run at the first event whose body the projection cannot use, or that
    is not the device's to write (its facility, lots and batches: sync_server/ingest/binding.py)."""
    binding = RunBinding(conn, device)
    for i, e in enumerate(verified):
        reason = body_problem(e)
        problem = Problem(BAD_BODY, e.seq, reason) if reason else binding.problem(e)
        if problem is not None:
            return verified[:i], problem, e, binding
    return verified, None, None, binding


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


def _commit(conn: Connection, accepted: list[Event], binding: RunBinding | None = None) -> None:
    """Insert and project ``accepted``. A continued device's copies take over their originals'
    projection rows; a continued batch whose lot is taken is kept without a public lot."""
    if not accepted:
        return
    insert_events(conn, accepted)
    for e in accepted:
        if binding is not None and e.seq in binding.copies:
            move_projection(conn, str(binding.old_device), binding.copies[e.seq], e)
        elif binding is not None and e.seq in binding.unlisted:
            project(conn, e, public=False)
            lot = str(e.body["lot"])
            facility = conn.execute(
                select(devices.c.facility_code).where(devices.c.dev_id == e.dev)
            ).scalar()
            raise_alert(
                conn,
                e.dev,
                facility,
                "lot_taken",
                f"event {e.seq}: continued batch with lot {lot}, which another batch holds; "
                "kept without a public lot",
                subject=lot,
            )
        else:
            project(conn, e)


def insert_events(conn: Connection, accepted: list[Event]) -> None:
    """Insert committed events as they are, without projecting them (also what an office
    decision to accept an event unprojected does: sync_server/devices/unblock.py)."""
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


def _refuse_malformed(conn: Connection, dev: str, reason: str, payload: bytes) -> IngestResult:
    """A payload we cannot even parse is nobody's we can name: counted with a sample, no ack."""
    device = _lock_device(conn, dev)
    if device is None:
        return IngestResult(None, 0, 0)
    record_reject(
        conn, dev, device["facility_code"], MALFORMED_KIND, MALFORMED, reason, payload[:2000]
    )
    return IngestResult(None, 0, 0, 1)
