"""Edge agent footprint while idle: RSS, CPU and bytes written per day, beside a bare Python.

``ocop edge run`` with one file camera (the demo video, 640x480) on a 2-minute schedule and
health checks every 5 s, connected to a running broker and server, nobody at the touchscreen.
The first scheduled photo is taken before the window (so the snapshot path is loaded) and
what it cost is measured on its own: ``/proc/<pid>/io`` wchar from just before it to 15 s
after (uploaded and acked) minus its files. The window then falls between two photos and
samples ``/proc/<pid>/status`` (VmRSS, the peak counts), ``/proc/<pid>/stat`` (utime + stime)
and ``/proc/<pid>/io`` (wchar: bytes handed to write(); write_bytes: bytes that reached the
block device): what the agent writes without photos (issue 17). The baseline is
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
GOAL_WRITES_MB_PER_DAY = 20.0
PHOTO_EVERY_S = 120
AFTER_PHOTO_S = 15.0  # the photo's upload and the ack of its event are done by then


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _first_photo(pid: int, photo_dir: Path) -> dict[str, int]:
    """Wait for the first scheduled photo; what the agent wrote for it besides its files."""
    before: dict[str, int] = {}

    def taken() -> bool:
        nonlocal before
        counters = io_counters(pid)
        if _tree_bytes(photo_dir) == 0:  # read before the check: no photo byte in ``before``
            before = counters
            return False
        return True

    wait_for(taken, PHOTO_EVERY_S + 60, "the first scheduled photo", 0.2)
    time.sleep(AFTER_PHOTO_S)
    after = io_counters(pid)
    files = _tree_bytes(photo_dir)
    wchar = after["wchar"] - before["wchar"] if before and after else -1
    return {"files": files, "wchar_besides_files": wchar - files if wchar >= 0 else -1}


def run(workdir: Path, *, quick: bool) -> BenchResult:
    settle_s, window_s = (0.5, 1.5) if quick else (1.0, 90.0)
    with open_stack(workdir / "footprint") as stack:
        server = make_server(stack.dir, stack.broker.port)
        video = write_demo_video(stack.dir / "line.avi")
        camera = (
            f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\n'
            f"interval_s = {PHOTO_EVERY_S}\nevidence = true\n"
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
            ["-c", f"import time; time.sleep({PHOTO_EVERY_S + window_s + 120:.0f})"],
            "sleeper.log",
        )
        proc = edge.run(stack.procs)
        wait_for(lambda: edge.status()["link"] == "connected", 30, "the agent to connect", 0.2)
        photo = None if quick else _first_photo(proc.pid, config.photo_dir)
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
    per_day = 86400 / elapsed
    io = {k: (io1[k] - io0[k]) for k in io1} if io0 and io1 else {}
    wchar_day = (io["wchar"] - photo_bytes) * per_day if io else float("nan")
    per_photo = photo["wchar_besides_files"] if photo else -1
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
                "1 file camera, 2-min schedule",
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
                "bytes written/day without photos (wchar)",
                wchar_day / 1e6,
                "MB/day",
                goal=GOAL_WRITES_MB_PER_DAY,
                goal_kind=MAX,
                note=f"{elapsed:.0f} s window between photos, extrapolated",
            ),
        ]
        + (
            [
                Figure(
                    "footprint",
                    "bytes written per photo besides its files (wchar)",
                    per_photo / 1e3,
                    "kB",
                    note="journal rows, upload state, ack (the first scheduled photo)",
                )
            ]
            if per_photo >= 0
            else []
        ),
        details={
            "window_s": elapsed,
            "settle_s": settle_s,
            "rss_mb": rss_mb,
            "cpu_percent": cpu,
            "io_delta": io,
            "photo_bytes_in_window": photo_bytes,
            "first_photo": photo,
            "wchar_per_day_without_photos": wchar_day,
            "write_bytes_per_day": io.get("write_bytes", 0) * per_day if io else None,
        },
    )
