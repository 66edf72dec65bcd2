"""Reconnect backoff: grows exponentially, is capped, and is spread by jitter."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.sync import backoff_delay


@given(attempt=st.integers(0, 100), seed=st.integers(0, 2**32))
def test_delay_stays_between_half_the_ceiling_and_the_ceiling(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, 1.0, 60.0, random.Random(seed))
    ceiling = min(60.0, 2.0**attempt)
    assert ceiling / 2 <= delay <= ceiling


def test_delays_grow_until_the_cap() -> None:
    rng = random.Random(1)
    firsts = [backoff_delay(a, 1.0, 60.0, rng) for a in range(8)]
    assert firsts[0] <= 1.0 and firsts[5] >= 16.0 and max(firsts) <= 60.0


def test_devices_that_lost_the_same_link_do_not_retry_in_step() -> None:
    delays = {round(backoff_delay(6, 1.0, 60.0, random.Random(seed)), 3) for seed in range(50)}
    assert len(delays) > 40
