"""ingest_chunk against a real SQLite database: commit, idempotence, gaps, forks, quarantine."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from sync_server.devices.registry import register_device
from sync_server.ingest.commit import ingest_chunk, ingest_chunks
from sync_server.ingest.rejects import FORGED, rejects_of
from sync_server.ingest.rejects import MALFORMED as MALFORMED_KIND
from sync_server.store.db import alerts, batches, devices, events, quarantine
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import DEV
from trace_protocol.envelope import Event
from trace_protocol.messages import Ack, encode_chunk
from trace_protocol.signing import DeviceKey


def send(engine: Engine, evs: list[Event], dev: str = DEV):  # type: ignore[no-untyped-def]
    return ingest_chunk(engine, dev, encode_chunk(dev, evs))


def stored(engine: Engine, dev: str = DEV) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.seq, events.c.hash).where(events.c.dev_id == dev).order_by(events.c.seq)
        )
        return [(r.seq, r.hash) for r in rows]


def device_row(engine: Engine, dev: str = DEV) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().one()


def quarantined(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(quarantine).order_by(quarantine.c.id)).mappings())


def history(chain: ChainBuilder, n_steps: int = 2) -> list[Event]:
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch))
    for i in range(n_steps):
        chain.next("step.recorded", step_body(batch, value=40.0 + i))
    return list(chain.events)


def test_commits_and_acks_upto(engine: Engine, device: str, chain: ChainBuilder) -> None:
    evs = history(chain)
    result = send(engine, evs)
    assert result.ack == Ack(upto=3)
    assert (result.committed, result.quarantined) == (3, 0)
    assert stored(engine) == [(e.seq, e.hash) for e in evs]
    row = device_row(engine)
    assert (row["head_seq"], row["head_hash"], row["blocked_code"]) == (3, evs[-1].hash, None)
    assert row["last_heard"] is not None
    with engine.connect() as conn:
        b = conn.execute(select(batches)).mappings().one()
        ids = conn.execute(select(events.c.batch_id).order_by(events.c.seq)).scalars().all()
        body = conn.execute(select(events.c.body).where(events.c.seq == 3)).scalar_one()
    assert (b["lot"], b["gtin"], b["product_code"], b["status"]) == (
        LOT,
        "08936123450014",
        "NM",
        "open",
    )
    assert b["facility_code"] == "KC"
    assert ids == [evs[0].body["batch"]] * 3
    assert body == evs[2].body
    assert quarantined(engine) == []


def test_commits_across_several_chunks(engine: Engine, device: str, chain: ChainBuilder) -> None:
    evs = history(chain, n_steps=5)
    assert send(engine, evs[:2]).ack == Ack(upto=2)
    assert send(engine, evs[2:4]).ack == Ack(upto=4)
    assert send(engine, evs[4:]).ack == Ack(upto=6)
    assert [s for s, _ in stored(engine)] == [1, 2, 3, 4, 5, 6]


def test_resending_the_same_chunk_is_idempotent(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain)
    first = send(engine, evs)
    again = send(engine, evs)
    assert again.ack == first.ack == Ack(upto=3)
    assert (again.committed, again.quarantined) == (0, 0)
    assert len(stored(engine)) == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 1
    assert quarantined(engine) == []
    assert device_row(engine)["blocked_code"] is None


def test_overlapping_chunk_commits_only_the_new_events(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain, n_steps=3)
    send(engine, evs[:3])
    result = send(engine, evs[1:])
    assert result.ack == Ack(upto=4)
    assert result.committed == 1
    assert [s for s, _ in stored(engine)] == [1, 2, 3, 4]


def test_chunk_past_the_head_is_a_gap_commits_nothing_and_acks_the_old_head(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain, n_steps=3)
    send(engine, evs[:1])
    result = send(engine, evs[2:])
    assert result.ack == Ack(upto=1, gap=True)
    assert (result.committed, result.quarantined) == (0, 0)
    assert [s for s, _ in stored(engine)] == [1]
    assert device_row(engine)["blocked_code"] is None
    assert quarantined(engine) == []
    # The device resends from upto+1 and everything lands.
    assert send(engine, evs[1:]).ack == Ack(upto=4)


def test_gap_before_first_event(engine: Engine, device: str, chain: ChainBuilder) -> None:
    evs = history(chain)
    assert send(engine, evs[1:]).ack == Ack(upto=0, gap=True)
    assert stored(engine) == []


def test_chunk_with_a_hole_commits_up_to_the_hole(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain, n_steps=3)
    result = send(engine, [evs[0], evs[1], evs[3]])
    assert result.ack == Ack(upto=2, gap=True)
    assert [s for s, _ in stored(engine)] == [1, 2]
    assert device_row(engine)["blocked_code"] is None


def test_fork_is_quarantined_and_blocks_the_device(
    engine: Engine, device: str, key: DeviceKey, chain: ChainBuilder
) -> None:
    evs = history(chain)
    send(engine, evs)
    # Another history from seq 2 on, properly chained and signed by the device's own key.
    other = ChainBuilder(key, DEV)
    other.events = [evs[0]]
    forked = other.next("step.recorded", step_body(evs[0].body["batch"], value=99.0))
    assert forked.seq == 2
    assert forked.hash != evs[1].hash

    result = send(engine, [forked])
    assert result.committed == 0
    assert result.quarantined == 1
    assert result.ack is not None
    assert result.ack.upto == 3
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("fork", 2)
    rows = quarantined(engine)
    assert [(r["code"], r["seq"], r["dev_id"]) for r in rows] == [("fork", 2, DEV)]
    assert rows[0]["event"] == forked.to_dict()
    dev = device_row(engine)
    assert (dev["blocked_code"], dev["blocked_seq"], dev["head_seq"]) == ("fork", 2, 3)
    assert stored(engine) == [(e.seq, e.hash) for e in evs]

    # Later chunks, even valid continuations, are refused with the same error.
    nxt = chain.next("step.recorded", step_body(evs[0].body["batch"]))
    later = send(engine, [nxt])
    assert later.committed == 0
    assert later.ack is not None
    assert later.ack.upto == 3
    assert later.ack.error is not None
    assert later.ack.error.code == "fork"
    assert len(stored(engine)) == 3
    assert len(quarantined(engine)) == 1


def test_fork_in_a_chunk_that_also_carries_new_events_commits_nothing(
    engine: Engine, device: str, key: DeviceKey, chain: ChainBuilder
) -> None:
    evs = history(chain)
    send(engine, evs[:2])
    other = ChainBuilder(key, DEV)
    other.events = [evs[0]]
    other.next(body={"other": True})
    other.next(body={"other": True})
    result = send(engine, other.events[1:])
    assert result.committed == 0
    assert result.ack is not None
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("fork", 2)
    assert [s for s, _ in stored(engine)] == [1, 2]


def test_chain_break_is_quarantined_after_committing_the_good_prefix(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    chain.run(2)
    bad = chain.next(prev="cd" * 32)
    chain.next()
    result = send(engine, chain.events)
    assert result.committed == 2
    assert result.quarantined == 1
    assert result.ack is not None
    assert result.ack.upto == 2
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("chain_break", 3)
    assert stored(engine) == [(e.seq, e.hash) for e in chain.events[:2]]
    rows = quarantined(engine)
    assert [(r["code"], r["seq"]) for r in rows] == [("chain_break", 3)]
    assert rows[0]["event"] == bad.to_dict()
    dev = device_row(engine)
    assert (dev["head_seq"], dev["head_hash"]) == (2, chain.events[1].hash)
    assert dev["blocked_code"] == "chain_break"


# Issue 12, finding 2: these used to quarantine the event and block the device. But a broker
# password is enough to publish them, so they prove nothing about the device: they are counted
# as forged traffic, the device is not blocked and not told, and the real event still lands.


def forged_count(engine: Engine, kind: str = FORGED) -> int:
    with engine.connect() as conn:
        rows = {r["kind"]: r["count"] for r in rejects_of(conn, DEV)}
    return rows.get(kind, 0)


def alert_kinds(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.kind for r in conn.execute(select(alerts.c.kind).order_by(alerts.c.id))]


def assert_not_blocked_and_counted(engine: Engine, count: int, kind: str = FORGED) -> None:
    assert device_row(engine)["blocked_code"] is None
    assert quarantined(engine) == []
    assert forged_count(engine, kind) == count
    assert alert_kinds(engine) == ["forged_traffic"]


def test_event_signed_by_another_key_is_not_the_devices(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    intruder = DeviceKey.generate()
    chain.run(2)
    real = ChainBuilder(chain.key, DEV)
    real.events = list(chain.events)
    chain.next(key=intruder)
    chain.next(key=intruder)
    result = send(engine, chain.events)
    assert result.committed == 2
    assert result.ack == Ack(upto=2)  # what it did commit is acked, without an error
    assert [s for s, _ in stored(engine)] == [1, 2]
    assert_not_blocked_and_counted(engine, 1)
    # The device's own event 3 is accepted when it comes.
    assert send(engine, [real.next()]).ack == Ack(upto=3)


def test_junk_at_the_next_seq_gets_no_ack_and_the_real_event_lands(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    """The issue's attack: the right shape, "hash": "000…", at the next seq."""
    send(engine, chain.run(2))
    real = chain.next()
    junk = dataclasses.replace(real, body={"lot": "FAKE"}, hash="0" * 64, sig="A" * 86)
    for _ in range(5):
        result = send(engine, [junk])
        assert result.ack is None and result.rejected == 1
    assert_not_blocked_and_counted(engine, 5)
    assert send(engine, [real]).ack == Ack(upto=3)


def test_tampered_body_is_forged_and_the_real_chunk_still_lands(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    chain.run(3)
    payload = json.loads(encode_chunk(DEV, chain.events))
    payload["events"][1]["body"] = {"n": 1000}
    result = ingest_chunk(engine, DEV, json.dumps(payload).encode())
    assert result.committed == 1
    assert result.ack == Ack(upto=1)
    assert [s for s, _ in stored(engine)] == [1]
    assert_not_blocked_and_counted(engine, 1)
    assert send(engine, chain.events).ack == Ack(upto=3)


def test_unsigned_fork_and_tampered_resend_are_forged(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain)
    send(engine, evs)
    # Another event at seq 2 that nobody signed: not a fork of the device's.
    other = ChainBuilder(DeviceKey.generate(), DEV)
    other.events = [evs[0]]
    fake_fork = other.next("step.recorded", step_body(evs[0].body["batch"], value=99.0))
    # A resend of seq 3 with its hash and signature but other content.
    fake_resend = dataclasses.replace(evs[2], body={"tampered": True})
    for fake in (fake_fork, fake_resend):
        result = send(engine, [fake])
        assert result.ack is None
    assert stored(engine) == [(e.seq, e.hash) for e in evs]
    assert_not_blocked_and_counted(engine, 2)


def test_a_damaged_resend_is_skipped_and_the_new_events_after_it_land(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    """A journal row damaged on the device after it synced, resent with the next event: the
    server keeps its good copy, counts the damaged one, and commits what follows."""
    send(engine, chain.run(2))
    damaged = dataclasses.replace(chain.events[1], prev="ab" * 32)
    nxt = chain.next()
    result = send(engine, [damaged, nxt])
    assert result.ack == Ack(upto=3)
    assert stored(engine)[1] == (2, chain.events[1].hash)
    assert_not_blocked_and_counted(engine, 1)


def test_a_signed_fork_blocks_even_behind_forged_duplicates(
    engine: Engine, device: str, key: DeviceKey, chain: ChainBuilder
) -> None:
    send(engine, chain.run(3))
    tampered = dataclasses.replace(chain.events[0], body={"x": 1})
    other = ChainBuilder(key, DEV)
    other.events = [chain.events[0]]
    fork = other.next(body={"other": True})
    result = send(engine, [tampered, fork])
    assert result.ack is not None and result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("fork", 2)
    assert device_row(engine)["blocked_code"] == "fork"
    assert forged_count(engine) == 1


def test_unsigned_chain_break_is_forged_but_a_signed_one_blocks(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    send(engine, chain.run(2))
    intruder = ChainBuilder(DeviceKey.generate(), DEV)
    intruder.events = list(chain.events)
    assert send(engine, [intruder.next(prev="cd" * 32)]).ack is None
    assert_not_blocked_and_counted(engine, 1)
    signed = send(engine, [chain.next(prev="cd" * 32)])
    assert signed.ack is not None and signed.ack.error is not None
    assert signed.ack.error.code == "chain_break"
    assert device_row(engine)["blocked_code"] == "chain_break"


def test_forged_event_beyond_a_gap_makes_no_gap_ack(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    send(engine, chain.run(1))
    chain.run(2)
    genuine_gap = send(engine, chain.events[2:])
    assert genuine_gap.ack == Ack(upto=1, gap=True)  # the device's own: resend from 2
    far = dataclasses.replace(chain.events[2], body={"x": 1})
    assert send(engine, [far]).ack is None
    assert forged_count(engine) == 1


def test_junk_is_counted_in_one_row_with_the_latest_samples_and_one_alert(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    """Issue 12, finding 9: 2,000 junk payloads made 2,000 quarantine rows and no alert."""
    send(engine, chain.run(1))
    junk = [(DEV, b'{"v":1,"junk":%d}' % i) for i in range(300)]
    for start in range(0, len(junk), 64):
        results = ingest_chunks(engine, junk[start : start + 64])
        assert all(r.ack is None and r.rejected == 1 for r in results)
    with engine.connect() as conn:
        (row,) = rejects_of(conn, DEV)
    assert (row["kind"], row["count"], row["last_code"]) == (MALFORMED_KIND, 300, "malformed")
    assert [s["payload"] for s in row["samples"]] == [
        f'{{"v":1,"junk":{i}}}' for i in (299, 298, 297)
    ]
    assert_not_blocked_and_counted(engine, 300, MALFORMED_KIND)


def test_one_chunks_nested_json_costs_nothing_to_the_others_in_its_group(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    """Issue 12, finding 3: a RecursionError used to drop the whole group of chunks."""
    key2 = DeviceKey.generate()
    register_device(engine, "kc-test-2", "KC", key2.public_key_b64)
    other = ChainBuilder(key2, "kc-test-2")
    nested = b'{"v":1,"dev":"kc-test-1","events":' + b"[" * 2000 + b"]" * 2000 + b"}"
    items = [
        ("kc-test-2", encode_chunk("kc-test-2", other.run(2))),
        (DEV, nested),
        ("kc-test-2", encode_chunk("kc-test-2", [other.next()])),
        (DEV, nested),
        (DEV, encode_chunk(DEV, chain.run(1))),
    ]
    results = ingest_chunks(engine, items)
    assert [r.ack for r in results] == [Ack(upto=2), None, Ack(upto=3), None, Ack(upto=1)]
    assert len(stored(engine, "kc-test-2")) == 3
    assert forged_count(engine, MALFORMED_KIND) == 2


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage",
        b"",
        b'{"v":1,"dev":"kc-test-1","events":[{"v":1}]}',
        b'{"v":1,"dev":"kc-test-1","events":[]}',
        b'{"v":9,"dev":"kc-test-1","events":[]}',
    ],
)
def test_malformed_payload_is_counted_without_raising_or_blocking(
    engine: Engine, device: str, chain: ChainBuilder, payload: bytes
) -> None:
    send(engine, chain.run(2))
    result = ingest_chunk(engine, DEV, payload)
    assert result.ack is None  # nobody we can name sent it: the device is not told
    assert (result.committed, result.quarantined, result.rejected) == (0, 0, 1)
    assert_not_blocked_and_counted(engine, 1, MALFORMED_KIND)
    with engine.connect() as conn:
        (row,) = rejects_of(conn, DEV)
    assert row["last_detail"]
    assert send(engine, [chain.next()]).ack == Ack(upto=3)


def test_malformed_payload_to_a_blocked_device_is_counted_without_an_ack(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    chain.next()
    chain.next(prev="cd" * 32)
    send(engine, chain.events)
    result = ingest_chunk(engine, DEV, b"garbage")
    assert result.ack is None
    assert forged_count(engine, MALFORMED_KIND) == 1
    assert device_row(engine)["blocked_code"] == "chain_break"


def test_unknown_device_gets_no_ack_and_nothing_is_stored(engine: Engine, device: str) -> None:
    stranger = ChainBuilder(DeviceKey.generate(), "kc-unknown-7")
    result = send(engine, stranger.run(2), dev="kc-unknown-7")
    assert result.ack is None
    assert (result.committed, result.quarantined) == (0, 0)
    assert ingest_chunk(engine, "kc-unknown-7", b"garbage").ack is None
    assert stored(engine, "kc-unknown-7") == []
    assert quarantined(engine) == []


def test_chunk_naming_another_device_than_its_topic_is_malformed(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    payload = encode_chunk("kc-test-2", chain.run(1))
    result = ingest_chunk(engine, DEV, payload)
    assert result.ack is None
    assert forged_count(engine, MALFORMED_KIND) == 1
    assert stored(engine) == []


def test_another_devices_events_on_this_topic_are_forged(
    engine: Engine, device: str, key: DeviceKey
) -> None:
    # A registered neighbour's events, sent on this device's topic: signed, but not by this
    # device's key, so they say nothing about this device and block neither.
    other_key = DeviceKey.generate()
    register_device(engine, "kc-test-2", "KC", other_key.public_key_b64)
    foreign = ChainBuilder(other_key, "kc-test-2").run(2)
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, foreign))
    assert (result.committed, result.ack) == (0, None)
    assert stored(engine, DEV) == []
    assert stored(engine, "kc-test-2") == []
    assert_not_blocked_and_counted(engine, 1)
    assert device_row(engine, "kc-test-2")["blocked_code"] is None


def test_events_naming_another_device_after_good_ones(
    engine: Engine, device: str, key: DeviceKey, chain: ChainBuilder
) -> None:
    chain.run(2)
    chain.next(dev="kc-test-2")
    result = send(engine, chain.events)
    assert result.committed == 2
    assert result.ack is not None
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("wrong_device", 3)
    assert [s for s, _ in stored(engine)] == [1, 2]


def test_batch_closed_updates_the_server_projection(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    evs = history(chain, n_steps=1)
    batch = evs[0].body["batch"]
    chain.next(
        "batch.closed",
        {"batch": batch, "quantity": 12.5, "unit": "kg", "expiry_date": "2025-03-01"},
    )
    assert send(engine, chain.events).ack == Ack(upto=3)
    with engine.connect() as conn:
        b = conn.execute(select(batches)).mappings().one()
    assert (b["status"], b["quantity"], b["unit"], b["expiry_date"]) == (
        "closed",
        12.5,
        "kg",
        "2025-03-01",
    )
    assert b["closed_at"] == chain.events[-1].at


@pytest.mark.parametrize("case", ["nan_body", "unprojectable"])
def test_signed_but_unusable_event_is_quarantined_not_raised(
    engine: Engine, device: str, chain: ChainBuilder, case: str
) -> None:
    if case == "nan_body":
        chain.next()
        payload = json.loads(encode_chunk(DEV, chain.events))
        payload["events"][0]["body"] = {"x": float("nan")}
        raw = json.dumps(payload).encode()
    else:
        chain.next("batch.closed", {"quantity": 1})
        raw = encode_chunk(DEV, chain.events)
    result = ingest_chunk(engine, DEV, raw)
    if case == "nan_body":  # NaN is not JSON: refused while parsing, counted as junk
        assert (result.ack, result.rejected) == (None, 1)
        return
    assert result.ack is not None
    assert result.ack.upto == 0
    assert result.quarantined == 1
