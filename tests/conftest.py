"""Shared fixtures: real Mosquitto on a free loopback port; programs must exist when CI=true."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

from ocop_cli.broker import SEARCH_PATH, Mosquitto
from tests.postgres import PostgresServer, bin_path

CI = os.environ.get("CI", "").lower() == "true"
# Headless Debian Chromium driven by Playwright (never `playwright install`).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parent.parent


def require_program(name: str, search_path: str = SEARCH_PATH) -> str:
    """The program's path; a missing program fails under CI=true and skips elsewhere."""
    path = shutil.which(name) or shutil.which(name, path=search_path)
    if path is None:
        message = f"{name} is not installed (./kit test installs it)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Make brokers in this test's tmp dir; every one is stopped at the end."""
    require_program("mosquitto")
    made: list[Mosquitto] = []

    def make(port: int | None = None, **kwargs: object) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"broker{len(made)}", port, **kwargs)  # type: ignore[arg-type]
        made.append(broker)
        broker.start()
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture
def broker(broker_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return broker_factory()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole run, started on first use (tests/postgres.py)."""
    server = PostgresServer(
        require_program("initdb", bin_path()), require_program("postgres", bin_path())
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database of this test's own, dropped after it."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the run (tests/browser and tests/security's touchscreen tests)."""
    from playwright.sync_api import sync_playwright

    path = require_program("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()
