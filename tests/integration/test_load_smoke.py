"""Issue 8: the national load test, small: 200 simulated devices against real Mosquitto and two
real ingest workers, a nominal then an overload phase, nothing lost or duplicated, and the
ingest workers' memory bounded relative to where it started (not an absolute figure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.load.run import main

pytestmark = pytest.mark.integration
RSS_GROWTH_BOUND = 1.5  # peak / start of each ingest worker


def test_two_hundred_devices_lose_nothing_and_ingest_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    require_program("mosquitto")
    report_path = tmp_path / "report.json"
    code = main(
        [
            "--devices", "200",
            "--minutes", "0.25",
            "--overload-minutes", "0.25",
            "--rate-multiplier", "5",
            "--drain-seconds", "25",
            "--sample-seconds", "1",
            "--workdir", str(tmp_path / "run"),
            "--report", str(report_path),
        ]
    )  # fmt: skip
    rep = json.loads(report_path.read_text(encoding="utf-8"))
    check = rep["check"]
    assert rep["connected_at_start"] == 200
    assert check["generated"] > 200 * 2, "the simulators made too few events to mean anything"
    assert check["lost"] == 0 and check["duplicated"] == 0, check
    assert check["forks"] == 0 and check["gaps"] == 0 and check["extra"] == 0, check
    assert rep["drained"], "the backlog did not drain in time"
    assert code == 0
    for proc, mem in rep["memory"].items():
        if proc.startswith("ingest"):
            assert mem["peak_kb"] <= RSS_GROWTH_BOUND * mem["start_kb"], (proc, mem)
    assert rep["counters"]["blocked"] == 0
