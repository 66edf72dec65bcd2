"""``ocop server …``: set up the database, register facilities and devices, run the server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

SubParsers = Any


def _config(args: argparse.Namespace) -> Any:
    from sync_server.config import ConfigError, load_config

    path = args.config or os.environ.get("OCOP_SERVER_CONFIG")
    try:
        return load_config(Path(path) if path else None)
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from exc


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="server.toml (default: $OCOP_SERVER_CONFIG or built-in)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init-db", help="create the database tables")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("import-catalog", help="create or update a facility and its products")
    p.add_argument("file", type=Path, help="catalog JSON (facility, products, steps)")
    p.set_defaults(func=cmd_import_catalog)

    p = sub.add_parser("register-device", help="register a device's public key for a facility")
    p.add_argument("--device", required=True, help="device id (also its MQTT username)")
    p.add_argument("--facility", required=True, help="facility code")
    p.add_argument("--public-key", required=True, help="as printed by `ocop edge show-key`")
    p.set_defaults(func=cmd_register_device)

    p = sub.add_parser("publish-config", help="publish devices' catalogs (retained config topic)")
    p.add_argument("--device", action="append", help="only this device (repeatable)")
    p.set_defaults(func=cmd_publish_config)

    p = sub.add_parser("devices", help="list devices: head, last heard, backlog, blocked reason")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("quarantine", help="list quarantined events (one JSON object per line)")
    p.set_defaults(func=cmd_quarantine)

    for name, helptext in (
        ("run", "run the web app and the ingest worker"),
        ("web", "run only the web app"),
        ("ingest", "run only an ingest worker"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.set_defaults(func=cmd_run, mode=name)


def cmd_init_db(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine

    cfg = _config(args)
    open_server_engine(cfg).dispose()
    print(f"database ready: {cfg.db_url.split('@')[-1]}")
    return 0


def cmd_import_catalog(args: argparse.Namespace) -> int:
    from sync_server.registry import RegistryError, import_catalog
    from sync_server.service import open_server_engine

    cfg = _config(args)
    engine = open_server_engine(cfg)
    try:
        catalog = import_catalog(engine, args.file, cfg.public_base_url)
    except (RegistryError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"facility {catalog.facility.code}: {len(catalog.products)} products, "
        f"catalog version {catalog.version}"
    )
    return 0


def cmd_register_device(args: argparse.Namespace) -> int:
    from sync_server.registry import RegistryError, register_device
    from sync_server.service import open_server_engine

    engine = open_server_engine(_config(args))
    try:
        register_device(engine, args.device, args.facility, args.public_key)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"device {args.device} registered for facility {args.facility}")
    return 0


def cmd_publish_config(args: argparse.Namespace) -> int:
    from sync_server.config_publisher import PublishError, publish_configs
    from sync_server.registry import RegistryError
    from sync_server.service import open_server_engine

    cfg = _config(args)
    try:
        devs = publish_configs(open_server_engine(cfg), cfg, args.device)
    except (PublishError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"config published for {len(devs)} device(s): {', '.join(devs)}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from sync_server.reports import device_rows
    from sync_server.service import open_server_engine

    with open_server_engine(_config(args)).connect() as conn:
        for row in device_rows(conn):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from sync_server.reports import quarantine_rows
    from sync_server.service import open_server_engine

    with open_server_engine(_config(args)).connect() as conn:
        for row in quarantine_rows(conn):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from sync_server.service import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    mode = args.mode
    run(_config(args), web=mode in ("run", "web"), ingest=mode in ("run", "ingest"))
    return 0
