"""Security regression tests (issue 12): each replays an attack against real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import Processes


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    yield p
    p.stop_all()
