from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Processes


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    yield p
    p.stop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty server database of this test's own, on SQLite and on PostgreSQL (like the unit
    tests' in tests/unit/server/conftest.py, for the tests moved here from there)."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "s.db")
    url: str = request.getfixturevalue("postgres_url")
    return url
