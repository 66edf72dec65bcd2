"""Issue 13: an agent whose clock agrees with the server's (carried in every ack) records its
events as "synced" even where no NTP client runs; one whose clock is an hour off says so in its
log and does not claim "synced" on the server's word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from edge_agent.clock import TIMESYNC_FLAG, read_kernel_clock
from ocop_cli.broker import Mosquitto
from sync_server.devices.config_publisher import publish_configs
from tests.conftest import CI
from tests.faults.cluster import find_libfaketime
from tests.integration.harness import EdgeEnv, Processes, enrol, make_edge, make_server, wait_until

pytestmark = pytest.mark.integration


def _open_batch_and_step(edge: EdgeEnv) -> None:
    s = edge.touchscreen()
    resp = s.post("/batches", {"product": "NM"})
    assert resp.status_code == 303, resp.text
    batch_path = resp.headers["Location"].removeprefix(edge.url)
    assert s.post(f"{batch_path}/steps", {"step": "XAT"}).status_code == 303


def _clocks(edge: EdgeEnv) -> list[str]:
    return [r[0] for r in edge.journal_rows("SELECT clock FROM events ORDER BY seq")]


def _nothing_else_vouches() -> bool:
    kernel = read_kernel_clock()
    return not TIMESYNC_FLAG.exists() and (kernel is None or not kernel.synced)


def test_an_agent_that_agrees_with_the_server_records_synced_times(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    server.run(procs)
    publish_configs(server.engine, server.config)
    edge.run(procs)
    wait_until(lambda: "Gạo Ngọc Mầm" in requests.get(edge.url, timeout=5).text, 20, "catalog")
    _open_batch_and_step(edge)
    wait_until(lambda: edge.acked() == edge.head() > 0, 30, "the server's ack")
    _open_batch_and_step(edge)
    assert _clocks(edge)[-2:] == ["synced", "synced"]
    assert "off the server's" not in (edge.dir / "log").read_text(encoding="utf-8")


def test_an_agent_an_hour_off_is_told_and_not_vouched_for(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    lib = find_libfaketime()
    if lib is None:
        message = "libfaketime is not installed (./kit test installs faketime)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    server.run(procs)
    publish_configs(server.engine, server.config)
    env = {**os.environ, "LD_PRELOAD": lib, "FAKETIME": "+1h", "FAKETIME_DONT_RESET": "1"}
    args = ["edge", "--config", str(edge.config_path), "run"]
    with (edge.dir / "log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocop_cli.main", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    procs.running.append(proc)
    wait_until(lambda: "Gạo Ngọc Mầm" in requests.get(edge.url, timeout=5).text, 30, "catalog")
    _open_batch_and_step(edge)
    wait_until(lambda: edge.acked() == edge.head() > 0, 30, "the server's ack")
    _open_batch_and_step(edge)
    log_text = (edge.dir / "log").read_text(encoding="utf-8")
    assert "this device's clock is 3600 s off the server's" in log_text
    if _nothing_else_vouches():
        assert set(_clocks(edge)) == {"unsynced"}, json.dumps(_clocks(edge))
