"""Fixtures for the camera tests: the generated scene videos, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.camera import scenes

SCENES = {
    "live": scenes.live_frames,
    "black": scenes.black_frames,
    "frozen": scenes.frozen_frames,
    "covered": scenes.covered_frames,
    "blurred": scenes.blurred_frames,
}


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One generated MJPG/AVI file per scene, written once for the session."""
    folder = tmp_path_factory.mktemp("videos")
    return {
        name: scenes.write_video(folder / f"{name}.avi", make()) for name, make in SCENES.items()
    }
