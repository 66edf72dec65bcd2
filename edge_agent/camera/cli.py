"""``ocop camera …``: check one camera source and print its health verdict as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from edge_agent.camera.health import NO_FRAMES, OK, HealthMonitor, HealthVerdict
from edge_agent.camera.sources import CameraError, open_source

USAGE_ERROR = 2
UNHEALTHY = 1
DEFAULT_FRAMES = 12


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` sub-command to the ``ocop camera`` group ``parser``."""
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check",
        help="read a few frames from a camera source and print its health as JSON",
        description="Exit 0 when the source is ok, 1 when it is not, 2 for a bad SOURCE.",
    )
    check.add_argument(
        "source", metavar="SOURCE", help="picamera2[:N], usb:N, rtsp://…, http://…, a file, …"
    )
    check.add_argument(
        "--frames",
        type=_positive_int,
        default=DEFAULT_FRAMES,
        help=f"reads to make (default {DEFAULT_FRAMES}; frozen needs at least 5)",
    )
    check.add_argument(
        "--timeout", type=_positive_float, default=5.0, help="seconds to wait for one frame"
    )
    check.set_defaults(func=run_check)


def check_source(source_uri: str, frames: int, timeout_s: float) -> tuple[HealthVerdict, int]:
    """Read up to ``frames`` times from the source; the last verdict and the frames read."""
    source = open_source(source_uri, source_uri, timeout_s=timeout_s)
    monitor = HealthMonitor()
    verdict, got = monitor.verdict, 0
    try:
        for _ in range(frames):
            frame = source.read()
            got += frame is not None
            verdict = monitor.observe(frame)
            if verdict.state == NO_FRAMES:
                break  # a dead source would make every remaining read wait its timeout
    finally:
        source.close()
    return verdict, got


def run_check(args: argparse.Namespace) -> int:
    """Print ``{"source", "state", "detail", "frames", "metrics"}``; 0 only when ok."""
    try:
        verdict, got = check_source(args.source, args.frames, args.timeout)
    except CameraError as exc:
        print(f"ocop camera check: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    report = {
        "source": args.source,
        "state": verdict.state,
        "detail": verdict.detail,
        "frames": got,
        "metrics": verdict.metrics,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0 if verdict.state == OK else UNHEALTHY
