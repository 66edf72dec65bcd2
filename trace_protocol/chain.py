"""Verify a run of consecutive events: every hash and link, and the newest signature.

DESIGN.md §3: the chain makes the newest signature cover every event before it, so a verifier
that recomputes each hash and link may check one signature per run. When that signature fails we
fall back to checking each event's own signature, so the good prefix still lands and the first
bad event is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trace_protocol.envelope import Event
from trace_protocol.signing import verify_signature

BAD_HASH = "bad_hash"
CHAIN_BREAK = "chain_break"
BAD_SIGNATURE = "bad_signature"
WRONG_DEVICE = "wrong_device"


@dataclass(frozen=True)
class Problem:
    """Why the event at ``seq`` cannot be accepted."""

    code: str
    seq: int
    detail: str


@dataclass
class RunVerdict:
    """The verified prefix of a run, and the problem that stopped it, if any."""

    accepted: list[Event] = field(default_factory=list)
    problem: Problem | None = None
    rejected: Event | None = None


def verify_run(
    events: Sequence[Event],
    *,
    dev: str,
    public_key: Ed25519PublicKey,
    prev_hash: str | None,
) -> RunVerdict:
    """Verify ``events`` (consecutive seqs, oldest first) that follow ``prev_hash``.

    ``prev_hash`` is the hash of the event just before ``events[0]`` (None before seq 1).
    Callers order the run and cut it at gaps; a seq discontinuity is reported as a chain break.
    """
    verdict = RunVerdict()
    expected_prev = prev_hash
    linked: list[Event] = []
    for i, ev in enumerate(events):
        if ev.dev != dev:
            verdict.problem = Problem(WRONG_DEVICE, ev.seq, f"event names device {ev.dev!r}")
        elif i and ev.seq != events[i - 1].seq + 1:
            verdict.problem = Problem(CHAIN_BREAK, ev.seq, "seq does not follow the previous one")
        elif ev.computed_hash() != ev.hash:
            verdict.problem = Problem(BAD_HASH, ev.seq, "hash does not match the content")
        elif ev.prev != expected_prev:
            verdict.problem = Problem(
                CHAIN_BREAK, ev.seq, "prev does not match the hash of the event before it"
            )
        if verdict.problem is not None:
            verdict.rejected = ev
            break
        linked.append(ev)
        expected_prev = ev.hash
    if not linked:
        return verdict
    if _signed(linked[-1], public_key):
        verdict.accepted = linked
        return verdict
    # The newest signature failed: find the first event whose own signature fails.
    for i, ev in enumerate(linked):
        if not _signed(ev, public_key):
            verdict.accepted = linked[:i]
            verdict.problem = Problem(BAD_SIGNATURE, ev.seq, "signature does not verify")
            verdict.rejected = ev
            return verdict
    raise AssertionError("unreachable: the last signature failed but every signature holds")


def _signed(ev: Event, public_key: Ed25519PublicKey) -> bool:
    return verify_signature(public_key, bytes.fromhex(ev.hash), ev.sig)
