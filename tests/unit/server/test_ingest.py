"""ingest_chunk against a real SQLite database: commit, idempotence, gaps, forks, quarantine."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from sync_server.db import batches, devices, events, quarantine
from sync_server.ingest import ingest_chunk
from sync_server.registry import register_device
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


def test_event_signed_by_another_key_is_quarantined(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    intruder = DeviceKey.generate()
    chain.run(2)
    chain.next(key=intruder)
    chain.next(key=intruder)
    result = send(engine, chain.events)
    assert result.committed == 2
    assert result.ack is not None
    assert result.ack.upto == 2
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("bad_signature", 3)
    assert [s for s, _ in stored(engine)] == [1, 2]
    assert [(r["code"], r["seq"]) for r in quarantined(engine)] == [("bad_signature", 3)]
    assert device_row(engine)["blocked_code"] == "bad_signature"


def test_tampered_body_is_quarantined_as_bad_hash(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    chain.run(3)
    payload = json.loads(encode_chunk(DEV, chain.events))
    payload["events"][1]["body"] = {"n": 1000}
    result = ingest_chunk(engine, DEV, json.dumps(payload).encode())
    assert result.committed == 1
    assert result.ack is not None
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("bad_hash", 2)
    assert [s for s, _ in stored(engine)] == [1]


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
def test_malformed_payload_is_quarantined_without_raising(
    engine: Engine, device: str, chain: ChainBuilder, payload: bytes
) -> None:
    send(engine, chain.run(2))
    result = ingest_chunk(engine, DEV, payload)
    assert result.ack == Ack(upto=2)
    assert (result.committed, result.quarantined) == (0, 1)
    rows = quarantined(engine)
    assert [(r["code"], r["seq"], r["dev_id"], r["event"]) for r in rows] == [
        ("malformed", 0, DEV, None)
    ]
    assert rows[0]["detail"]
    # A payload that cannot be parsed does not block the device.
    assert device_row(engine)["blocked_code"] is None
    assert send(engine, [chain.next()]).ack == Ack(upto=3)


def test_malformed_payload_from_a_blocked_device_acks_the_block(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    chain.next()
    chain.next(prev="cd" * 32)
    send(engine, chain.events)
    result = ingest_chunk(engine, DEV, b"garbage")
    assert result.ack is not None
    assert result.ack.upto == 1
    assert result.ack.error is not None
    assert result.ack.error.code == "chain_break"


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
    assert result.ack == Ack(upto=0)
    assert [r["code"] for r in quarantined(engine)] == ["malformed"]
    assert stored(engine) == []


def test_events_naming_another_device_are_quarantined(
    engine: Engine, device: str, key: DeviceKey
) -> None:
    # A registered neighbour's events, sent on this device's topic.
    other_key = DeviceKey.generate()
    register_device(engine, "kc-test-2", "KC", other_key.public_key_b64)
    foreign = ChainBuilder(other_key, "kc-test-2").run(2)
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, foreign))
    assert result.committed == 0
    assert result.ack is not None
    assert result.ack.upto == 0
    assert result.ack.error is not None
    assert (result.ack.error.code, result.ack.error.seq) == ("wrong_device", 1)
    assert stored(engine, DEV) == []
    assert stored(engine, "kc-test-2") == []
    assert device_row(engine)["blocked_code"] == "wrong_device"
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
    assert result.ack is not None
    assert result.ack.upto == 0
    assert result.quarantined == 1
