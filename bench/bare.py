"""The web benchmark's baseline: a bare Flask route under waitress, as ``ocop server web`` runs.

Same WSGI server, same thread count, nothing of the product: ``GET /`` answers ``ok``. Run as
its own process: ``python -m bench.bare --port PORT --threads 8``.
"""

from __future__ import annotations

import argparse

from flask import Flask
from waitress.server import create_server


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def bare() -> str:
        return "ok"

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    args = parser.parse_args(argv)
    server = create_server(
        create_bare_app(), host="127.0.0.1", port=args.port, threads=args.threads
    )
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
