"""Browser tests: headless Debian Chromium (the ``browser`` fixture lives in tests/conftest.py,
shared with tests/security, since one process can drive only one sync Playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CHROMIUM_FLAGS
from tests.integration.harness import Processes

__all__ = ["CHROMIUM_FLAGS"]


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    yield p
    p.stop_all()
