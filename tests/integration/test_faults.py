"""Issue #3, CI variant: the fault-injection suite, short (30 faults over about 3000 events)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO, require_program
from tests.faults.report import FINAL_RE

pytestmark = pytest.mark.integration
ARGS = ["--faults", "30", "--events", "3000", "--ingest-workers", "2", "--seed", "7"]
TIMEOUT_S = 300


def test_short_fault_run_loses_and_duplicates_nothing() -> None:
    require_program("mosquitto")
    # Its own process group: on a timeout the runner and every process it started are killed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.run", *ARGS],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"the fault run took over {TIMEOUT_S}s:\n{output}")
    lines = output.strip().splitlines()
    assert lines, output
    match = FINAL_RE.match(lines[-1])
    assert match, output
    faults, events, lost, duplicated, gaps = (int(g) for g in match.groups())
    assert (lost, duplicated, gaps) == (0, 0, 0), output
    assert faults >= 30, output
    assert events >= 3000, output
    assert proc.returncode == 0, output
