"""Run the edge agent: the touchscreen UI under waitress and the sync worker beside it."""

from __future__ import annotations

import logging
import signal
from types import FrameType

from waitress.server import create_server

from edge_agent.agent import open_agent
from edge_agent.config import EdgeConfig
from edge_agent.web import create_app

log = logging.getLogger(__name__)


def run(config: EdgeConfig) -> None:
    """Serve until SIGTERM/SIGINT. Starts and works with no broker reachable."""
    agent = open_agent(config)
    app = create_app(agent)
    server = create_server(app, host=config.ui.host, port=config.ui.port, threads=4)

    def _stop(signum: int, frame: FrameType | None) -> None:
        # waitress's run() ends its loop cleanly on SystemExit raised in the main thread.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent.start()
    log.info("touchscreen UI on http://%s:%s/", config.ui.host, config.ui.port)
    try:
        server.run()
    finally:
        agent.stop()
        agent.close()
