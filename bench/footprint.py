"""Edge agent footprint while idle: RSS, CPU and bytes written per hour, beside a bare Python.

``ocop edge run`` with one file camera (the demo video, 640x480) on a 1-minute schedule and
health checks every 5 s, connected to a running broker and server, nobody at the touchscreen.
After a settling pause, the window samples ``/proc/<pid>/status`` (VmRSS, the peak counts),
``/proc/<pid>/stat`` (utime + stime) and ``/proc/<pid>/io`` (wchar: bytes handed to write();
write_bytes: bytes that reached the block device). Photo files written in the window are
subtracted, so the figure is what the journal, logs and status cost. The baseline is
``python -c 'import time; time.sleep(…)'`` measured over the same window.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.kit import cpu_seconds, io_counters, open_stack, rss_kb, wait_for
from bench.report import MAX, BenchResult, Figure
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.demo_video import write_demo_video
from tests.integration.harness import KC_CATALOG, enrol, make_edge, make_server
from trace_protocol.catalog import parse_catalog

GOAL_RSS_MB = 80.0
GOAL_CPU_PERCENT = 2.0


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def run(workdir: Path, *, quick: bool) -> BenchResult:
    settle_s, window_s = (0.5, 1.5) if quick else (10.0, 90.0)
    with open_stack(workdir / "footprint") as stack:
        server = make_server(stack.dir, stack.broker.port)
        video = write_demo_video(stack.dir / "line.avi")
        camera = (
            f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\n'
            "interval_s = 60\nevidence = true\n"
        )
        edge = make_edge(
            stack.dir,
            "kc-idle-1",
            stack.broker.port,
            camera,
            ack_timeout_s=10.0,
            status_interval_s=30.0,
            keepalive_s=30,
        )
        config = load_config(edge.config_path)
        agent = open_agent(config, with_sync=False)
        obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
        agent.accept_catalog(
            parse_catalog({**obj, "version": 1, "public_base_url": server.base_url})
        )
        agent.close()
        enrol(server, edge)
        stack.ingest(server)
        stack.web(server)
        sleeper = stack.python(
            ["-c", f"import time; time.sleep({settle_s + window_s + 120:.0f})"], "sleeper.log"
        )
        proc = edge.run(stack.procs)
        wait_for(lambda: edge.status()["link"] == "connected", 30, "the agent to connect", 0.2)
        time.sleep(settle_s)

        pids = {"agent": proc.pid, "baseline": sleeper.pid}
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        io0 = io_counters(proc.pid)
        photos0 = _tree_bytes(config.photo_dir)
        peak = {k: rss_kb(p) for k, p in pids.items()}
        start = time.perf_counter()
        while time.perf_counter() - start < window_s:
            time.sleep(min(1.0, window_s / 3))
            peak = {k: max(peak[k], rss_kb(p)) for k, p in pids.items()}
        elapsed = time.perf_counter() - start
        cpu = {k: (cpu_seconds(p) - cpu0[k]) / elapsed * 100 for k, p in pids.items()}
        io1 = io_counters(proc.pid)
        photo_bytes = _tree_bytes(config.photo_dir) - photos0
        alive = proc.poll() is None
        server.engine.dispose()
    if not alive:
        raise AssertionError("footprint: the edge agent died during the window")
    per_hour = 3600 / elapsed
    io = {k: (io1[k] - io0[k]) for k in io1} if io0 and io1 else {}
    wchar_h = (io["wchar"] - photo_bytes) * per_hour if io else float("nan")
    rss_mb = {k: v / 1024 for k, v in peak.items()}
    return BenchResult(
        figures=[
            Figure(
                "footprint",
                "agent RSS (peak in window)",
                rss_mb["agent"],
                "MB",
                rss_mb["baseline"],
                "bare python sleep",
                GOAL_RSS_MB,
                MAX,
                "1 file camera, 1-min schedule",
            ),
            Figure(
                "footprint",
                "agent CPU (one core)",
                cpu["agent"],
                "%",
                cpu["baseline"],
                "bare python sleep",
                GOAL_CPU_PERCENT,
                MAX,
            ),
            Figure(
                "footprint",
                "bytes written/h without photos (wchar)",
                wchar_h,
                "B/h",
                note=f"{elapsed:.0f} s window extrapolated",
            ),
        ],
        details={
            "window_s": elapsed,
            "settle_s": settle_s,
            "rss_mb": rss_mb,
            "cpu_percent": cpu,
            "io_delta": io,
            "photo_bytes_in_window": photo_bytes,
            "wchar_per_hour_without_photos": wchar_h,
            "write_bytes_per_hour": io.get("write_bytes", 0) * per_hour if io else None,
        },
    )
