"""``./kit``: shellcheck-clean, help without installing, pip only when pyproject.toml changed.

The install decision is checked with a fake venv whose ``python`` and ``ocop`` only log how
they were called, so no test here runs pip (issue 13).
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest

from ocop_cli.main import build_parser
from tests.conftest import require_program

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "kit"


def _kit(*args: str, venv: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCOP_VENV": str(venv)}
    return subprocess.run(
        [str(KIT), *args], env=env, capture_output=True, text=True, timeout=60, stdin=None
    )


def test_kit_is_shellcheck_clean() -> None:
    shellcheck = require_program("shellcheck")
    done = subprocess.run(
        [shellcheck, "--severity=style", str(KIT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def _demo_flags() -> set[str]:
    groups = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    demo = groups.choices["demo"]
    return {s for a in demo._actions for s in a.option_strings if s.startswith("--")}


def test_demo_help_prints_every_flag_without_making_a_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    done = _kit("demo", "--help", venv=venv)
    assert done.returncode == 0, done.stderr
    assert not venv.exists() and "kit: installing" not in done.stdout
    flags = _demo_flags()
    assert {"--public-url", "--server-port", "--edge-port", "--mqtt-port", "--data-dir"} <= flags
    for flag in flags:
        assert flag in done.stdout, flag
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for flag in flags - {"--help"}:
        assert flag in readme and flag in cli, flag


def _fake_venv(root: Path) -> tuple[Path, Path]:
    """A venv whose python and ocop log their arguments to ``calls``."""
    calls = root / "calls"
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "ocop"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n', encoding="utf-8")
        script.chmod(0o755)
    return root, calls


def test_demo_runs_pip_once_then_trusts_the_stamp(tmp_path: Path) -> None:
    require_program("mosquitto")  # so that the kit's apt step has nothing to install
    venv, calls = _fake_venv(tmp_path / "venv")
    first = _kit("demo", "--edge-port", "9", venv=venv)
    assert first.returncode == 0, first.stderr
    assert "python -m pip install" in calls.read_text(encoding="utf-8")
    # The demo runs both sides (issue 14: their dependencies are extras).
    assert "-e .[edge,server]" in calls.read_text(encoding="utf-8")
    assert "ocop demo --edge-port 9" in calls.read_text(encoding="utf-8")
    assert (venv / ".ocop-kit-installed").is_file()

    calls.unlink()
    second = _kit("demo", venv=venv)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout and "pip not run" in second.stdout
    assert calls.read_text(encoding="utf-8").splitlines() == ["ocop demo"]

    # A changed pyproject.toml (here: a stamp that no longer matches it) installs again.
    (venv / ".ocop-kit-installed").write_text("0" * 64 + "\n", encoding="utf-8")
    calls.unlink()
    third = _kit("demo", venv=venv)
    assert "pip install" in calls.read_text(encoding="utf-8"), third.stdout


@pytest.mark.parametrize("extras", ["[test]"])
def test_a_test_install_also_serves_the_demo(tmp_path: Path, extras: str) -> None:
    require_program("mosquitto")
    venv, calls = _fake_venv(tmp_path / "venv")
    stamp = subprocess.run(
        ["bash", "-c", f'{{ cat pyproject.toml; printf "extras=%s\\n" "{extras}"; }} | sha256sum'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    (venv / ".ocop-kit-installed").write_text(stamp + "\n", encoding="utf-8")
    done = _kit("demo", venv=venv)
    assert "up to date" in done.stdout, done.stdout
    assert "pip" not in calls.read_text(encoding="utf-8")
