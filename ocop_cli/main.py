"""The ``ocop`` console script: one sub-command group per part of the kit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def build_parser() -> argparse.ArgumentParser:
    from edge_agent import cli as edge_cli
    from edge_agent import label_cli as edge_label_cli
    from edge_agent.camera import cli as camera_cli
    from firmware_config import cli as device_cli
    from firmware_config import server_cli as provision_cli
    from label_printer import cli as label_cli
    from ocop_cli import check_link, demo
    from sync_server import cli as server_cli

    parser = argparse.ArgumentParser(prog="ocop", description="OCOP traceability kit")
    groups = parser.add_subparsers(dest="group", required=True)
    edge_cli.register(groups.add_parser("edge", help="the edge agent on a facility's Pi"))
    server_commands = server_cli.register(
        groups.add_parser("server", help="the central sync server")
    )
    provision_cli.register(server_commands)  # firmware_config: sync_server may not import it
    label = groups.add_parser("label", help="render and print labels")
    label_commands = label.add_subparsers(dest="command", required=True)
    label_cli.register(label_commands)
    edge_label_cli.register(label_commands)
    check_link.register(label_commands)
    camera_cli.register(groups.add_parser("camera", help="check cameras"))
    device_cli.register(groups.add_parser("device", help="render a Pi's SD-card bundle"))
    demo.register(groups.add_parser("demo", help="run broker, server and one agent locally"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
