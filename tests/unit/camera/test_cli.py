"""`ocop camera check` through register() on a throwaway parser: exit codes and the JSON line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.camera.cli import register


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    parser = argparse.ArgumentParser(prog="ocop camera")
    register(parser)
    args = parser.parse_args(["check", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


@pytest.mark.parametrize(
    ("scene", "state", "code"),
    [("live", "ok", 0), ("black", "black", 1), ("frozen", "frozen", 1), ("covered", "covered", 1)],
)
def test_check_gives_the_verdict_of_each_video(
    videos: dict[str, Path], scene: str, state: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    got, report, _ = _check([str(videos[scene])], capsys)
    assert got == code
    assert report["source"] == str(videos[scene])
    assert report["state"] == state
    assert report["frames"] == 12
    assert {"mean", "std", "laplacian_var"} <= set(report["metrics"])
    assert isinstance(report["detail"], str) and report["detail"]


def test_check_counts_frames_and_stops_early_on_no_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = _check([f"folder:{tmp_path}", "--frames", "20"], capsys)
    assert code == 1
    assert report["state"] == "no_frames" and report["frames"] == 0


def test_check_frames_option(videos: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = _check([str(videos["frozen"]), "--frames", "3"], capsys)
    assert (code, report["state"], report["frames"]) == (0, "ok", 3)  # too few to call it frozen


@pytest.mark.parametrize("source", ["ftp://cam/stream", "/no/such/file.avi", "usb:one"])
def test_check_bad_source_exits_2_with_a_message(
    source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, err = _check([source], capsys)
    assert code == 2 and report is None
    assert err.startswith("ocop camera check: error:") and source in err


def test_check_rejects_zero_frames(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="ocop camera")
    register(parser)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["check", "usb:0", "--frames", "0"])
    assert exc.value.code == 2
