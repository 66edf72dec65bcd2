"""`make bench` cannot rot: every benchmark runs with tiny sizes and reports well-formed figures.

Timings are not asserted here (they belong to `make bench`, on a quiet machine), only that each
benchmark runs end to end against the real processes and produces its figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.run import NAMES, main
from ocop_cli.broker import find_mosquitto
from tests.conftest import require_program
from tests.postgres import bin_path

pytestmark = pytest.mark.integration


def test_every_benchmark_runs_and_reports_its_figures(tmp_path: Path) -> None:
    find_mosquitto()  # fails (not skips) without Mosquitto
    require_program("initdb", bin_path())  # the trace bench runs on PostgreSQL too
    require_program("nginx")  # the nginx bench runs the bundle's site in Debian's nginx
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["quick"] is True
    assert {"nproc", "cpu_model", "ram_mb", "python", "mosquitto", "date"} <= set(report["machine"])
    assert set(report["details"]) == set(NAMES)
    assert {f["bench"] for f in report["figures"]} == set(NAMES)
    for figure in report["figures"]:
        assert isinstance(figure["value"], int | float) and math.isfinite(figure["value"]), figure
        assert figure["value"] >= 0 and figure["unit"] and figure["name"], figure
        if figure["baseline"] is not None:
            assert figure["baseline"] >= 0 and figure["baseline_name"], figure
        if figure["goal"] is not None:
            assert isinstance(figure["passed"], bool) and figure["goal_text"], figure
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert table.startswith("| bench |") and "Machine:" in table
    # The trace bench (issue 15): trace and recall on both databases, beside a single-lot
    # lookup, with the recall's goal judged.
    trace = {f["name"]: f for f in report["figures"] if f["bench"] == "trace"}
    for db in ("sqlite", "postgresql"):
        mine = {name: f for name, f in trace.items() if name.startswith(f"{db}: ")}
        assert any("trace forward" in name for name in mine), mine
        assert any("trace backward" in name for name in mine), mine
        closure = mine[f"{db}: recall closure + store"]
        assert closure["baseline_name"] == "single-lot lookup" and closure["goal"] == 1000.0
        assert any(name.startswith(f"{db}: recall → banner on page") for name in mine), mine
        assert f"{db}: batch page, recall active, lot outside" in mine
    details = report["details"]["trace"]
    assert details["rows"]["events"] > 0 and details["sqlite"]["lots"]["closure"] > 1
    # The nginx bench (issue 17): batch pages through the bundle's micro-cache beside nginx's
    # static file and the workers asked directly; every client saw the recall banner.
    mine = {f["name"]: f for f in report["figures"] if f["bench"] == "nginx"}
    rates = [f for f in report["figures"] if f["name"] == "batch page via nginx requests/s"]
    assert {f["baseline_name"] for f in rates} == {"nginx static file", "2 workers direct"}, rates
    assert 0 < mine["micro-cache hit ratio"]["value"] <= 100
    hidden = mine["recall → banner hidden by the cache (last old page)"]
    assert hidden["baseline_name"] == "micro-cache TTL" and hidden["goal_kind"] == "max"
    nginx = report["details"]["nginx"]
    assert nginx["recall_run"]["saw_watch"] == nginx["recall_run"]["clients"] > 0
    assert nginx["nginx"]["header_counts"].get("HIT", 0) > 0
