"""The flags of ``ocop demo``, stdlib only: ``./kit demo --help`` prints them before any install.

``python3 -m ocop_cli.demo_args --help`` works with the system Python on a clean clone, so the
kit can show the help without making a virtualenv (issue 13).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

DESCRIPTION = (
    "Run a local Mosquitto (per-device logins, no anonymous clients), the sync server and the "
    "KC rice facility's edge agent with demo data until Ctrl-C. The honey facility gets a "
    "device that synced a batch and went quiet; the antler facility one that synced antler in "
    "that honey and went quiet, and one that never enrolled. "
    "Unit labels of the seeded rice batch are printed to files at start."
)
EPILOG = (
    "To scan the printed labels with a phone on the same Wi-Fi, give the computer's LAN "
    "address: ./kit demo --public-url http://192.168.1.23:8000 (the server then listens on "
    "that address only; by default it listens on 127.0.0.1). Step by step: "
    "docs/deployment.md#what-the-demo-does."
)


def public_url(value: str) -> str:
    """``--public-url``: an http(s) base with a host and no path, query or fragment."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r}: give http://HOST[:PORT]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{value!r}: no path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("demo-data"),
        help="folder for every file of the demo, reused by the next start (default: demo-data)",
    )
    parser.add_argument(
        "--server-port",
        type=int,
        default=None,
        help="the server's HTTP port: public pages, /office, enrolment "
        "(default: the --public-url port, else 8000)",
    )
    parser.add_argument(
        "--edge-port",
        type=int,
        default=8080,
        help="the KC agent's touchscreen, always on 127.0.0.1 (default: 8080)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=int,
        default=0,
        help="the broker's port for devices, on 127.0.0.1 (default: 0 = a free port)",
    )
    parser.add_argument(
        "--public-url",
        type=public_url,
        default=None,
        help="base URL printed in label QR codes, e.g. http://<LAN-IP>:8000; the server "
        "listens on its host (default: http://127.0.0.1:<server-port>, loopback only)",
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="./kit demo")
    add_arguments(parser)
    parser.parse_args(sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
