"""Issue #3, CI variant: the fault-injection suite, short (30 faults over about 3000 events)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, require_program
from tests.faults.report import FINAL_RE

pytestmark = pytest.mark.integration
ARGS = ["--faults", "30", "--events", "3000", "--ingest-workers", "2", "--seed", "7"]


def test_short_fault_run_loses_and_duplicates_nothing() -> None:
    require_program("mosquitto")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.faults.run", *ARGS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines, output
    match = FINAL_RE.match(lines[-1])
    assert match, output
    faults, events, lost, duplicated, gaps = (int(g) for g in match.groups())
    assert (lost, duplicated, gaps) == (0, 0, 0), output
    assert faults >= 30, output
    assert events >= 3000, output
    assert proc.returncode == 0, output
