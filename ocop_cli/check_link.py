"""Provide `ocop label check-link`: DL URIs on stdin, one JSON verdict per line on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TextIO

from trace_protocol.digital_link import LinkError, parse_link


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check-link`` to an existing ``ocop label`` sub-command group."""
    parser = subparsers.add_parser(
        "check-link",
        help="check GS1 Digital Link URIs read from standard input",
        description=(
            "Read URIs, one per line, from standard input and print one JSON object per line: "
            '{"uri": ..., "valid": true, "ais": [["01", ...], ...]} or '
            '{"uri": ..., "valid": false, "error": ...}. The rules are those of GS1\'s '
            "reference Barcode Syntax Engine with default options. Exit status 1 if any URI "
            "is invalid."
        ),
    )
    parser.set_defaults(func=run_check_link)


def check_uri(uri: str) -> dict[str, object]:
    """The JSON-ready verdict on one URI."""
    try:
        parsed = parse_link(uri)
    except LinkError as exc:
        return {"uri": uri, "valid": False, "error": str(exc)}
    return {"uri": uri, "valid": True, "ais": [[ai, value] for ai, value in parsed.ais]}


def _lines(stream: TextIO) -> Iterator[str]:
    # Read bytes where we can: a stray non-UTF-8 byte must make that URI invalid, not crash us.
    raw = getattr(stream, "buffer", None)
    if raw is None:
        yield from stream
    else:
        for line in raw:
            yield line.decode("utf-8", errors="replace")


def run_check_link(args: argparse.Namespace) -> int:
    """Check every non-blank line of stdin; 0 if all URIs are valid, 1 otherwise."""
    all_valid = True
    for line in _lines(sys.stdin):
        uri = line.rstrip("\r\n")  # anything else on the line is part of what we check
        if not uri.strip():
            continue
        verdict = check_uri(uri)
        all_valid = all_valid and verdict["valid"] is True
        print(json.dumps(verdict), flush=True)
    return 0 if all_valid else 1
