"""Render device bundles into tmp folders through the real CLI entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ocop_cli.main import main

TOKEN = "qpaFCT8AQJrmBRruN7XzQA"
BASE_ARGS = (
    "--facility",
    "KC",
    "--device",
    "kc-line-1",
    "--server",
    "https://trace.example.vn",
    "--token",
    TOKEN,
)

Provision = Callable[..., Path]


@pytest.fixture
def provision(tmp_path: Path) -> Provision:
    """``provision(*extra_args)`` renders a bundle with ``ocop device provision`` and returns
    its folder; every call gets a new folder."""
    return make_provision(tmp_path)


def make_provision(tmp_path: Path) -> Provision:
    """The ``provision`` fixture's function, for tests outside this folder."""
    count = 0

    def run(*extra: str) -> Path:
        nonlocal count
        count += 1
        out = tmp_path / f"bundle{count}"
        assert main(["device", "provision", "--out", str(out), *BASE_ARGS, *extra]) == 0
        return out

    return run
