"""Run the edge agent: the touchscreen UI under waitress and the sync worker beside it."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from waitress.server import create_server

from edge_agent.agent import open_agent
from edge_agent.config import EdgeConfig
from edge_agent.web import create_app

log = logging.getLogger(__name__)


def run(config: EdgeConfig) -> None:
    """Serve until SIGTERM/SIGINT. Starts and works with no broker reachable.

    When the office lets this device continue under a new id (edge_agent/continuation.py), the
    agent stops cleanly and the process replaces itself with a fresh ``ocop edge run`` (same
    pid, so systemd sees no exit), which reads the new identity.
    """
    agent = open_agent(config)
    app = create_app(agent)
    server = create_server(app, host=config.ui.host, port=config.ui.port, threads=4)
    restart = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        # waitress's run() ends its loop cleanly on SystemExit raised in the main thread.
        nonlocal restart
        restart = signum == signal.SIGHUP
        raise SystemExit(0)

    def _ask_restart() -> None:
        os.kill(os.getpid(), signal.SIGHUP)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _stop)
    agent.on_restart = _ask_restart
    agent.start()
    log.info("touchscreen UI on http://%s:%s/", config.ui.host, config.ui.port)
    try:
        server.run()
    finally:
        agent.stop()
        agent.close()
        server.close()
        if restart:
            log.warning("restarting with a new identity")
            logging.shutdown()
            os.execv(sys.executable, sys.orig_argv)
