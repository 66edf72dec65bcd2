"""Backlog drain after a week offline: how fast a real agent empties 10,000 events and 1,000
photos into a running server once the link is back.

The journal is filled in-process with the journal API (as tests/integration/prefill.py does):
one open batch, its steps, and every tenth event a photo (a small JPEG through the camera's
blob store and ``take_snapshot``, then its ``snapshot.taken`` event). Then the broker, one
``ocop server ingest`` worker and ``ocop server web`` (the photo uploads' endpoint) run, and
``ocop edge run`` starts with its default sync settings and an unthrottled uploader. The
baseline is how fast the journal wrote the same events in this run.

One ingest worker by default: with two, chunks of the window overtake each other, the server
answers a gap with an ``upto`` the agent already holds, the agent drops it as stale and waits
``ack_timeout_s`` (10 s) before resending (docs/benchmarks.md). ``--drain-workers 2`` shows it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from bench.kit import open_stack, wait_for
from bench.report import MIN, BenchResult, Figure
from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.camera.snapshot import take_snapshot
from edge_agent.config import load_config
from tests.integration.harness import KC_CATALOG, EdgeEnv, enrol, make_edge, make_server
from trace_protocol import envelope as ev
from trace_protocol.catalog import parse_catalog

GOAL_EVENTS_S = 5_000.0
PHOTO_EVERY = 10
PHOTO_SIZE = (120, 160)  # rows, columns: a small JPEG of about 15 kB


def fill_journal(edge: EdgeEnv, events: int, photos: int, base_url: str) -> dict[str, float]:
    """Write ``events`` step events and ``photos`` photos; the seconds each part took."""
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    catalog = parse_catalog({**obj, "version": 1, "public_base_url": base_url})
    agent.accept_catalog(catalog)
    batch = batches.open_batch(agent.journal, catalog, "NM", "").body["batch"]
    rng = np.random.default_rng(7)
    step_s = photo_s = 0.0
    photo_bytes = 0
    made = 0
    for i in range(events):
        start = time.perf_counter()
        batches.record_step(agent.journal, catalog, batch, "XAT", {}, "")
        step_s += time.perf_counter() - start
        if made < photos and (i % PHOTO_EVERY == 0 or events - i <= photos - made):
            frame = rng.integers(0, 256, (*PHOTO_SIZE, 3), dtype=np.uint8)
            start = time.perf_counter()
            snap = take_snapshot(frame, agent.cameras.store, public=False)
            agent.journal.append(
                ev.SNAPSHOT_TAKEN,
                {
                    "camera": "bench",
                    "purpose": "periodic",
                    "sha256": snap.sha256,
                    "thumb_sha256": snap.thumb_sha256,
                    "width": snap.width,
                    "height": snap.height,
                },
            )
            photo_s += time.perf_counter() - start
            photo_bytes += snap.path.stat().st_size
            made += 1
    head = agent.journal.head()
    agent.close()
    return {
        "head": head,
        "step_seconds": step_s,
        "photo_seconds": photo_s,
        "photos": made,
        "photo_bytes": photo_bytes,
    }


def run(workdir: Path, *, quick: bool, workers: int = 1) -> BenchResult:
    n_events, n_photos = (300, 10) if quick else (10_000, 1_000)
    timeout_s = 60.0 if quick else 300.0
    with open_stack(workdir / "drain") as stack:
        port = stack.broker.port
        server = make_server(stack.dir, port)
        # Production sync settings (DESIGN.md §4 defaults); reconnects kept short to start fast.
        edge = make_edge(
            stack.dir,
            "kc-drain-1",
            port,
            "[upload]\nbandwidth_kbps = 0\n",
            ack_timeout_s=10.0,
            status_interval_s=30.0,
            keepalive_s=30,
        )
        filled = fill_journal(edge, n_events, n_photos, server.base_url)
        head = int(filled["head"])
        enrol(server, edge)
        for i in range(workers):
            stack.ingest(server, f"ingest-{i + 1}")
        stack.web(server)
        time.sleep(1.0)  # the ingest workers subscribe

        def pending_photos() -> int:
            rows = edge.journal_rows(
                "SELECT COUNT(DISTINCT sha256) FROM photo_files WHERE uploaded_at IS NULL"
            )
            return int(rows[0][0])

        started = time.perf_counter()
        stack.procs.start(["edge", "--config", str(edge.config_path), "run"], edge.dir / "log")
        first_ack = wait_for(lambda: edge.acked() > 0, timeout_s, "the first ack")
        first_acked = edge.acked()
        events_done = wait_for(lambda: edge.acked() >= head, timeout_s, "acked == head")
        photos_done = wait_for(lambda: pending_photos() == 0, timeout_s, "the photo uploads", 0.1)
        on_server = int(server.scalar("SELECT head_seq FROM devices WHERE dev_id = ?", edge.dev))
        blobs = int(server.scalar("SELECT COUNT(*) FROM blob_refs WHERE received_at IS NOT NULL"))
        server.engine.dispose()
    if on_server != head:
        raise AssertionError(f"drain: server head {on_server}, journal head {head}")
    drained = head - first_acked
    drain_s = max(1e-9, events_done - first_ack)
    drain_per_s = drained / drain_s
    gen_per_s = n_events / filled["step_seconds"]
    photos_s = max(1e-9, photos_done - first_ack)
    photo_per_s = filled["photos"] / photos_s
    photo_gen_per_s = filled["photos"] / max(1e-9, filled["photo_seconds"])
    return BenchResult(
        figures=[
            Figure(
                "drain",
                "events acked/s (first ack to acked == head)",
                drain_per_s,
                "events/s",
                gen_per_s,
                "journal write rate",
                GOAL_EVENTS_S,
                MIN,
                note=f"{head} events, chunk 100 x window 4, {workers} ingest worker(s)",
            ),
            Figure(
                "drain",
                "time to empty events (agent start to acked == head)",
                events_done - started,
                "s",
            ),
            Figure(
                "drain",
                "photos uploaded/s (first ack to last upload)",
                photo_per_s,
                "photos/s",
                photo_gen_per_s,
                "photo write rate",
            ),
            Figure(
                "drain",
                "time to empty photos (agent start to last upload)",
                photos_done - started,
                "s",
            ),
        ],
        details={
            "events": head,
            "ingest_workers": workers,
            "photos": filled["photos"],
            "photo_bytes": filled["photo_bytes"],
            "generation": filled,
            "first_ack_after_s": first_ack - started,
            "events_empty_after_s": events_done - started,
            "photos_empty_after_s": photos_done - started,
            "events_per_s": drain_per_s,
            "photos_per_s": photo_per_s,
            "upload_mb_per_s": filled["photo_bytes"] / photos_s / 1e6,
            "blobs_on_server": blobs,
        },
    )
