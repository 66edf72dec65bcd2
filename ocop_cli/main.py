"""The ``ocop`` console script: one sub-command group per part of the kit.

A group's modules are imported only when that group runs (issue 14): ``ocop server run`` must
not load the edge's OpenCV and NumPy, and a server installed with the ``[server]`` extra has
neither. ``build_parser()`` without arguments registers every group (docs and tests read it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence


def _edge(parser: argparse.ArgumentParser) -> None:
    from edge_agent import cli

    cli.register(parser)


def _server(parser: argparse.ArgumentParser) -> None:
    from firmware_config import server_cli as provision_cli
    from firmware_config.bundle_zip import zip_bundle
    from sync_server import cli

    provision_cli.register(cli.register(parser))  # firmware_config: sync_server may not import it
    # The office's "download the SD-card bundle" (issue 16) renders with firmware_config too:
    # handed to `ocop server run` here, on the only layer that may import both.
    parser.set_defaults(sd_bundle=zip_bundle)


def _label(parser: argparse.ArgumentParser) -> None:
    from edge_agent import label_cli as edge_label_cli
    from label_printer import cli
    from ocop_cli import check_link

    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands)
    edge_label_cli.register(commands)
    check_link.register(commands)


def _camera(parser: argparse.ArgumentParser) -> None:
    from edge_agent.camera import cli

    cli.register(parser)


def _device(parser: argparse.ArgumentParser) -> None:
    from firmware_config import cli

    cli.register(parser)


def _demo(parser: argparse.ArgumentParser) -> None:
    from ocop_cli import demo

    demo.register(parser)


GROUPS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "edge": ("the edge agent on a facility's Pi", _edge),
    "server": ("the central sync server", _server),
    "label": ("render and print labels", _label),
    "camera": ("check cameras", _camera),
    "device": ("render a Pi's SD-card bundle", _device),
    "demo": ("run broker, server and one agent locally", _demo),
}


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) just the named groups' sub-commands."""
    parser = argparse.ArgumentParser(prog="ocop", description="OCOP traceability kit")
    groups = parser.add_subparsers(dest="group", required=True)
    for name, (help_text, register) in GROUPS.items():
        group = groups.add_parser(name, help=help_text)
        if only is None or name in only:
            register(group)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    # The top-level parser has no options but --help, so the first word names the group.
    wanted = args_in[:1] if args_in and not args_in[0].startswith("-") else []
    args = build_parser(only=wanted).parse_args(args_in)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
