"""Hypothesis (issue 15 acceptance): the supply projections equal a replay of the journal, and
equal each other, in any arrival order: any chunking, duplicates, gaps, devices interleaved.

On SQLite: every example starts from a copy of one prepared database (schema, catalog, two
devices), which keeps a few hundred examples fast; test_supply_projection.py runs the same
delivery on PostgreSQL too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunks
from sync_server.ingest.replay import reproject
from sync_server.store.db import create_schema, open_engine
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import CATALOG, DEV
from tests.unit.server.supply_chain import LINE2, Scenario, snapshot
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

# (device 0 or 1, start relative to what the server has acked, length, send the pile now)
Step = tuple[int, int, int, bool]
steps = st.lists(
    st.tuples(st.integers(0, 1), st.integers(-3, 3), st.integers(1, 5), st.booleans()),
    max_size=40,
)


class Prepared:
    """A database file with the KC catalog and both devices, and their journals."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        keys = DeviceKey.generate(), DeviceKey.generate()
        engine = open_engine(f"sqlite:///{self.template}")
        create_schema(engine)
        import_catalog(engine, CATALOG, "http://x")
        register_device(engine, DEV, "KC", keys[0].public_key_b64)
        register_device(engine, LINE2, "KC", keys[1].public_key_b64)
        engine.dispose()  # the last connection to close checkpoints the WAL into the file
        self.streams = Scenario(ChainBuilder(keys[0], DEV), ChainBuilder(keys[1], LINE2)).build()
        self.n = 0

    def fresh(self) -> Engine:
        self.n += 1
        path = self.folder / f"e{self.n}.db"
        for suffix in ("", "-wal"):
            if Path(f"{self.template}{suffix}").exists():
                shutil.copy(f"{self.template}{suffix}", f"{path}{suffix}")
        return open_engine(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    yield Prepared(tmp_path_factory.mktemp("supply-replay"))


def play(engine: Engine, streams: dict[str, list[Event]], schedule: list[Step]) -> None:
    """Deliver per ``schedule``, then whatever is left in order (as devices resend at last)."""
    devs = sorted(streams)
    acked = dict.fromkeys(devs, 0)
    pile: list[tuple[str, bytes]] = []

    def send(items: list[tuple[str, bytes]]) -> None:
        for (dev, _), res in zip(items, ingest_chunks(engine, items), strict=True):
            assert res.ack is not None and res.ack.error is None, res.ack
            acked[dev] = max(acked[dev], res.ack.upto)

    for which, offset, length, flush in schedule:
        dev = devs[which]
        start = max(0, acked[dev] + offset)
        evs = streams[dev][start : start + length]
        if evs:
            pile.append((dev, encode_chunk(dev, evs)))
        if flush and pile:
            send(pile)
            pile = []
    if pile:
        send(pile)
    send([(d, encode_chunk(d, streams[d][acked[d] :])) for d in devs if acked[d] < len(streams[d])])
    assert acked == {d: len(streams[d]) for d in devs}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=steps)
def test_projections_equal_a_replay_of_the_journal_in_any_arrival_order(
    prepared: Prepared, schedule: list[Step]
) -> None:
    reference = _reference(prepared)
    engine = prepared.fresh()
    try:
        play(engine, prepared.streams, schedule)
        got = snapshot(engine)
        assert got == reference
        reproject(engine)
        assert snapshot(engine) == got
    finally:
        engine.dispose()


_REFERENCE: dict[int, dict[str, list[tuple[object, ...]]]] = {}


def _reference(prepared: Prepared) -> dict[str, list[tuple[object, ...]]]:
    """The tables after each device's journal arrived whole and in order, once per journal."""
    if id(prepared) not in _REFERENCE:
        engine = prepared.fresh()
        play(engine, prepared.streams, [])
        _REFERENCE[id(prepared)] = snapshot(engine)
        engine.dispose()
    return _REFERENCE[id(prepared)]
