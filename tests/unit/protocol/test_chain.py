"""verify_run: every hash and link, the newest signature, and the first bad event."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.protocol.builders import ChainBuilder, resign
from trace_protocol.chain import (
    BAD_HASH,
    BAD_SIGNATURE,
    CHAIN_BREAK,
    WRONG_DEVICE,
    verify_run,
)
from trace_protocol.envelope import Event
from trace_protocol.signing import DeviceKey, load_public_key

DEV = "kc-test-1"
KEY = DeviceKey.generate()
OTHER = DeviceKey.generate()
PUB = load_public_key(KEY.public_key_b64)


def run(n: int) -> list[Event]:
    return ChainBuilder(KEY, DEV).run(n)


def verify(events: list[Event], prev_hash: str | None = None):  # type: ignore[no-untyped-def]
    return verify_run(events, dev=DEV, public_key=PUB, prev_hash=prev_hash)


def test_valid_run_is_accepted_whole() -> None:
    events = run(6)
    verdict = verify(events)
    assert verdict.problem is None
    assert verdict.rejected is None
    assert verdict.accepted == events


def test_empty_run_accepts_nothing_and_has_no_problem() -> None:
    verdict = verify([])
    assert verdict.accepted == []
    assert verdict.problem is None


def test_run_continuing_a_committed_head() -> None:
    events = run(5)
    verdict = verify(events[2:], prev_hash=events[1].hash)
    assert verdict.problem is None
    assert verdict.accepted == events[2:]


def test_run_that_does_not_follow_the_given_head_is_a_chain_break_at_its_first_event() -> None:
    events = run(5)
    verdict = verify(events[2:], prev_hash=events[0].hash)
    assert verdict.accepted == []
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (CHAIN_BREAK, 3)
    assert verdict.rejected == events[2]


def test_first_event_against_a_non_null_head_is_a_chain_break() -> None:
    events = run(2)
    verdict = verify(events, prev_hash="00" * 32)
    assert verdict.problem is not None
    assert verdict.problem.code == CHAIN_BREAK
    assert verdict.accepted == []


def test_tampered_body_is_bad_hash_with_the_prefix_accepted() -> None:
    events = run(5)
    events[3] = dataclasses.replace(events[3], body={"n": 999})
    verdict = verify(events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (BAD_HASH, 4)
    assert verdict.accepted == events[:3]
    assert verdict.rejected == events[3]


def test_wrong_prev_is_a_chain_break() -> None:
    builder = ChainBuilder(KEY, DEV)
    builder.run(2)
    builder.next(prev="cd" * 32)  # correctly hashed and signed, but linked to nothing
    builder.next()
    verdict = verify(builder.events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (CHAIN_BREAK, 3)
    assert verdict.accepted == builder.events[:2]


def test_seq_gap_inside_a_run_is_a_chain_break() -> None:
    events = run(5)
    gapped = events[:2] + events[3:]
    verdict = verify(gapped)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (CHAIN_BREAK, 4)
    assert verdict.accepted == events[:2]


def test_bad_signatures_in_the_middle_and_at_the_end_name_the_first() -> None:
    events = run(6)
    events[2] = resign(events[2], OTHER)
    events[5] = resign(events[5], OTHER)
    verdict = verify(events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (BAD_SIGNATURE, 3)
    assert verdict.accepted == events[:2]
    assert verdict.rejected == events[2]


def test_bad_signature_only_at_the_end_accepts_everything_before_it() -> None:
    events = run(4)
    events[3] = resign(events[3], OTHER)
    verdict = verify(events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (BAD_SIGNATURE, 4)
    assert verdict.accepted == events[:3]


def test_suffix_rewritten_and_signed_by_another_key_is_refused_from_its_start() -> None:
    builder = ChainBuilder(KEY, DEV)
    builder.run(3)
    builder.next(key=OTHER)
    builder.next(key=OTHER)
    verdict = verify(builder.events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (BAD_SIGNATURE, 4)
    assert verdict.accepted == builder.events[:3]


def test_newest_signature_covers_the_run() -> None:
    # DESIGN.md §3: the verifier may check only the newest signature once hashes and links hold.
    events = run(4)
    events[1] = resign(events[1], OTHER)
    verdict = verify(events)
    assert verdict.problem is None
    assert verdict.accepted == events


def test_events_of_another_device_are_wrong_device() -> None:
    builder = ChainBuilder(KEY, DEV)
    builder.run(2)
    builder.next(dev="kc-other-9")
    verdict = verify(builder.events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (WRONG_DEVICE, 3)
    assert verdict.accepted == builder.events[:2]


def test_run_signed_by_another_key_accepts_nothing() -> None:
    events = ChainBuilder(OTHER, DEV).run(3)
    verdict = verify(events)
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (BAD_SIGNATURE, 1)
    assert verdict.accepted == []


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(min_value=1, max_value=8), st.sampled_from(["body", "rewrite"]))
def test_accepted_prefix_is_exactly_the_events_before_the_tampered_one(
    data: st.DataObject, n: int, how: str
) -> None:
    original = run(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    if how == "body":
        events = list(original)
        events[index] = dataclasses.replace(events[index], body={"tampered": index})
        expected_code = BAD_HASH
    else:
        # Someone without the key rewrites the history from ``index`` and re-chains it.
        builder = ChainBuilder(KEY, DEV)
        builder.events = list(original[:index])
        for _ in range(index, n):
            builder.next(body={"forged": True}, key=OTHER)
        events = builder.events
        expected_code = BAD_SIGNATURE
    verdict = verify(events)
    assert verdict.accepted == original[:index]
    assert verdict.problem is not None
    assert (verdict.problem.code, verdict.problem.seq) == (expected_code, index + 1)
    assert verdict.rejected == events[index]
