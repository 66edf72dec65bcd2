"""Run the server's processes: the web app under waitress, the ingest worker, or both."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.devices.catalog_edit import publish_pending
from sync_server.devices.fleet import BundleMaker
from sync_server.devices.liveness import sweep_silent
from sync_server.devices.recalled_lots import update_recalled_lots
from sync_server.http_server import open_http_server
from sync_server.ingest.replay import reproject_if_stale
from sync_server.ingest.worker import IngestWorker
from sync_server.notify.loop import start_notify_loop
from sync_server.store.db import create_schema, open_engine
from sync_server.trace.recalls import grow_recalls
from sync_server.web import MAX_BODY_BYTES, create_app

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 60.0


def open_server_engine(config: ServerConfig) -> Engine:
    """The database, migrated, with its supply projections rebuilt if an older server made
    them (sync_server/ingest/replay.py)."""
    engine = open_engine(config.db_url)
    create_schema(engine)
    reproject_if_stale(engine)
    return engine


def _sweep_loop(engine: Engine, config: ServerConfig, stop: threading.Event) -> None:
    """Once a minute: raise 'silent' alerts for devices quiet past office.offline_after_s, grow
    active recalls by the lots derived since (issue 15) and publish catalogs edited while the
    broker was unreachable."""
    while not stop.wait(SWEEP_INTERVAL_S):
        try:
            with engine.begin() as conn:
                sweep_silent(conn, config.office)
            with engine.begin() as conn:
                grow_recalls(conn)
            update_recalled_lots(engine, config.public_base_url)
            publish_pending(engine, config)
        except Exception:  # the database or broker may be briefly away: try next time
            log.exception("housekeeping failed")


def run(
    config: ServerConfig,
    *,
    web: bool = True,
    ingest: bool = True,
    sd_bundle: BundleMaker | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; the ingest worker keeps retrying while the broker is down.
    ``sd_bundle`` lets the office offer a Pi's SD-card bundle (sync_server/devices/fleet.py)."""
    engine = open_server_engine(config)
    stop = threading.Event()
    worker = IngestWorker(engine, config) if ingest else None
    server = None
    app = None
    if web:
        app = create_app(config, engine, sd_bundle=sd_bundle)
        server = open_http_server(app, config.http, MAX_BODY_BYTES)

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if server is not None:
            # waitress's run() ends its loop cleanly on SystemExit raised in the main thread.
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if worker is not None:
        worker.start()
        threading.Thread(
            target=_sweep_loop, args=(engine, config, stop), name="silence-sweep", daemon=True
        ).start()
        start_notify_loop(engine, config, stop)  # e-mail to officers, when smtp.host is set
    try:
        if server is not None:
            log.info("web app on http://%s:%s/", config.http.host, config.http.port)
            server.run()
        else:
            stop.wait()
    finally:
        if worker is not None:
            worker.stop()
        if app is not None:
            app.extensions["ocop_scan_writer"].flush(timeout_s=5.0)  # scans still queued
        engine.dispose()
