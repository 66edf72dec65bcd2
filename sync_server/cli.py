"""``ocop server …``: set up the database, register facilities and devices, run the server."""

from __future__ import annotations

import argparse
import dataclasses
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


def register(parser: argparse.ArgumentParser) -> SubParsers:
    """Add the server's commands; returns the sub-parsers so ocop_cli can add more."""
    parser.add_argument("--config", help="server.toml (default: $OCOP_SERVER_CONFIG or built-in)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init-db", help="create or migrate the database tables (Alembic)")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("reproject", help="rebuild the supply projections from the journal")
    p.set_defaults(func=cmd_reproject)

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

    p = sub.add_parser("add-device", help="create a device and print its one-time enrolment token")
    p.add_argument("--device", required=True, help="device id (also its MQTT username)")
    p.add_argument("--facility", required=True, help="facility code")
    p.add_argument("--qr", type=Path, help="also write the enrolment command as a QR PNG here")
    p.set_defaults(func=cmd_add_device)

    p = sub.add_parser("revoke-device", help="stop a device at the broker; distrust its events")
    p.add_argument("--device", required=True)
    p.add_argument("--reason", default="", help="shown to the office")
    p.set_defaults(func=cmd_revoke_device)

    p = sub.add_parser("sync-broker", help="rewrite the broker's password/ACL files and reload it")
    p.set_defaults(func=cmd_sync_broker)

    p = sub.add_parser("alerts", help="list open alerts for the office (JSON lines)")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("devices", help="list devices: head, last heard, backlog, blocked reason")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("quarantine", help="list quarantined events (one JSON object per line)")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("export-epcis", help="write a batch's EPCIS 2.0 JSON-LD document to stdout")
    p.add_argument("--lot", required=True, help="lot code, e.g. KC-NM-261122-01")
    p.add_argument("--gtin", help="only the batch with this GTIN (8, 12, 13 or 14 digits)")
    p.set_defaults(func=cmd_export_epcis)

    from sync_server.accounts.cli import register_accounts

    register_accounts(sub, _config)

    from sync_server.trace.cli import register_trace

    register_trace(sub, _config)

    from sync_server.notify.cli import register_notify

    register_notify(sub, _config)

    p = sub.add_parser("recall", help="recall a lot and every lot derived from it")
    p.add_argument("lot", help="output lot, receiving lot or a supplier's lot code")
    p.add_argument("--reason", required=True, help="why (shown on the consumer pages)")
    p.add_argument("--supplier", help="the supplier id, for a supplier's lot code")
    p.set_defaults(func=cmd_recall)

    p = sub.add_parser("recalls", help="list recalls (one JSON object per line)")
    p.add_argument("--active", action="store_true", help="only recalls not lifted")
    p.set_defaults(func=cmd_recalls)

    p = sub.add_parser("lift-recall", help="lift a recall (recorded: who, when, why)")
    p.add_argument("id", type=int, help="the recall's number, as `recalls` lists it")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_lift_recall)

    p = sub.add_parser("backup", help="snapshot the SQLite database and copy new blobs")
    p.add_argument("--to", required=True, type=Path, help="backup folder")
    p.add_argument("--keep", type=int, help="keep only the newest N snapshots")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "import-scans", help="store the batch-page views nginx served from its cache as scans"
    )
    p.add_argument("--log", required=True, type=Path, help="nginx's scan log (ocop_scans format)")
    p.add_argument("--follow", action="store_true", help="keep importing until stopped")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between reads (--follow)")
    p.set_defaults(func=cmd_import_scans)

    for name, helptext in (
        ("run", "run the web app and the ingest worker"),
        ("web", "run only the web app"),
        ("ingest", "run only an ingest worker"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name != "ingest":
            p.add_argument("--port", type=int, help="web app port (default: http.port)")
        p.set_defaults(func=cmd_run, mode=name)
    return sub


def cmd_init_db(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine
    from sync_server.store.migrations import SchemaError, current_revision

    cfg = _config(args)
    try:
        engine = open_server_engine(cfg)
    except SchemaError as exc:
        raise SystemExit(f"error: {exc}") from exc
    with engine.connect() as conn:
        revision = current_revision(conn)
    engine.dispose()
    print(f"database ready at revision {revision}: {cfg.db_url.split('@')[-1]}")
    return 0


def cmd_reproject(args: argparse.Namespace) -> int:
    from sync_server.ingest.replay import reproject
    from sync_server.service import open_server_engine

    engine = open_server_engine(_config(args))
    count = reproject(engine)
    engine.dispose()
    print(f"supply projections rebuilt from {count} events")
    return 0


def cmd_import_catalog(args: argparse.Namespace) -> int:
    from sync_server.devices.registry import RegistryError, import_catalog
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
    from sync_server.devices.registry import RegistryError, register_device
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
    from sync_server.devices.config_publisher import PublishError, publish_configs
    from sync_server.devices.registry import RegistryError
    from sync_server.service import open_server_engine

    cfg = _config(args)
    try:
        devs = publish_configs(open_server_engine(cfg), cfg, args.device)
    except (PublishError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"config published for {len(devs)} device(s): {', '.join(devs)}")
    return 0


def cmd_add_device(args: argparse.Namespace) -> int:
    from sync_server.devices.enrolment import create_device
    from sync_server.devices.registry import RegistryError
    from sync_server.service import open_server_engine

    cfg = _config(args)
    try:
        token = create_device(
            open_server_engine(cfg), args.device, args.facility, cfg.broker.token_ttl_hours
        )
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = (
        f"ocop edge enroll --server {cfg.public_base_url} --facility {args.facility}"
        f" --token {token}"
    )
    if args.qr:
        import qrcode

        qrcode.make(command).save(args.qr)
    # The token is a one-time secret meant for the person enrolling the device: print it once.
    print(f"device {args.device} created for facility {args.facility}")
    print(f"one-time token (valid {cfg.broker.token_ttl_hours:g} h): {token}")
    print(f"on the Pi: {command}")
    return 0


def cmd_revoke_device(args: argparse.Namespace) -> int:
    from sync_server.devices.broker_auth import reload_broker, write_broker_auth
    from sync_server.devices.enrolment import revoke_device
    from sync_server.devices.registry import RegistryError
    from sync_server.service import open_server_engine

    cfg = _config(args)
    engine = open_server_engine(cfg)
    try:
        revoke_device(engine, args.device, args.reason)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_broker_auth(engine, cfg.auth_dir)
    reloaded = reload_broker(cfg.broker.reload_command)
    print(f"device {args.device} revoked; broker reloaded: {'yes' if reloaded else 'NO'}")
    return 0 if reloaded else 1


def cmd_sync_broker(args: argparse.Namespace) -> int:
    from sync_server.devices.broker_auth import reload_broker, write_broker_auth
    from sync_server.service import open_server_engine

    cfg = _config(args)
    count = write_broker_auth(open_server_engine(cfg), cfg.auth_dir)
    print(f"broker files in {cfg.auth_dir}: {count} device(s) may connect")
    if cfg.broker.reload_command:
        return 0 if reload_broker(cfg.broker.reload_command) else 1
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine
    from sync_server.store.alerts import open_alerts

    with open_server_engine(_config(args)).connect() as conn:
        for row in open_alerts(conn):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from sync_server.devices.reports import device_rows
    from sync_server.service import open_server_engine

    cfg = _config(args)
    with open_server_engine(cfg).connect() as conn:
        for row in device_rows(conn, cfg.office):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from sync_server.devices.reports import quarantine_rows
    from sync_server.service import open_server_engine

    with open_server_engine(_config(args)).connect() as conn:
        for row in quarantine_rows(conn):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_export_epcis(args: argparse.Namespace) -> int:
    from datetime import datetime

    from sync_server.epcis.document import export_lot
    from sync_server.service import open_server_engine

    cfg = _config(args)
    gtin = args.gtin.zfill(14) if args.gtin and args.gtin.isdigit() else args.gtin
    with open_server_engine(cfg).connect() as conn:
        doc = export_lot(
            conn, args.lot, gtin, base_url=cfg.public_base_url, created=datetime.now().astimezone()
        )
    if doc is None:
        which = f"lot {args.lot}" + (f" with GTIN {gtin}" if gtin else "")
        print(f"error: no batch with {which} on this server", file=sys.stderr)
        return 2
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def cmd_recall(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine
    from sync_server.trace.recalls import RecallError, call_back_list, recall

    cfg = _config(args)
    engine = open_server_engine(cfg)
    try:
        with engine.begin() as conn:
            made = recall(conn, args.lot, args.reason, _operator(), args.supplier)
            calls = call_back_list(conn, made).shipments
    except RecallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recall #{made.id}: {made.lot} and {len(made.lots)} lot(s) it covers")
    for s in calls:
        print(f"call back: {s.customer_name} {s.phone} ({s.shipped_on}, {s.quantity:g} {s.unit})")
    return _tell_devices(engine, cfg)


def cmd_recalls(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine
    from sync_server.trace.recalls import list_recalls

    with open_server_engine(_config(args)).connect() as conn:
        for r in list_recalls(conn, active_only=args.active):
            print(json.dumps(dataclasses.asdict(r), ensure_ascii=False))
    return 0


def cmd_lift_recall(args: argparse.Namespace) -> int:
    from sync_server.service import open_server_engine
    from sync_server.trace.recalls import RecallError, lift

    cfg = _config(args)
    engine = open_server_engine(cfg)
    try:
        with engine.begin() as conn:
            lifted = lift(conn, args.id, args.reason, _operator())
    except RecallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recall #{lifted.id} of {lifted.lot} lifted")
    return _tell_devices(engine, cfg)


def _operator() -> str:
    """Who recalls or lifts from the command line, for the audit trail."""
    import getpass

    return f"cli:{getpass.getuser()}"


def _tell_devices(engine: Any, cfg: Any) -> int:
    """Put the facilities' recalled lots in their catalogs and publish them (web workers see
    the recall by themselves within a second: sync_server/web/recall_state.py)."""
    from sync_server.devices.catalog_edit import publish_pending
    from sync_server.devices.recalled_lots import update_recalled_lots

    changed = update_recalled_lots(engine, cfg.public_base_url)
    published = publish_pending(engine, cfg, timeout_s=5.0)
    late = [code for code in changed if code not in published]
    if late:
        print(f"devices of {', '.join(late)} not told yet: the server retries once a minute")
    elif changed:
        print(f"devices told: {', '.join(changed)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from sync_server.service import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    mode = args.mode
    cfg = _config(args)
    if getattr(args, "port", None):  # one server.toml for several web workers (ocop-web@PORT)
        cfg = dataclasses.replace(cfg, http=dataclasses.replace(cfg.http, port=args.port))
    # sd_bundle: the SD-card bundle maker ocop_cli/main.py passes in (firmware_config's), or None.
    bundle = getattr(args, "sd_bundle", None)
    run(cfg, web=mode in ("run", "web"), ingest=mode in ("run", "ingest"), sd_bundle=bundle)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from sync_server.store.backup import BackupError, run_backup

    cfg = _config(args)
    try:
        result = run_backup(cfg.db_url, cfg.blob_dir, args.to, keep=args.keep)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"snapshot: {result.snapshot} ({result.snapshot.stat().st_size} bytes)")
    print(f"blobs: {result.blobs_copied} copied, {result.blobs_present} already there")
    for path in result.pruned:
        print(f"pruned: {path}")
    for path in result.corrupt_blobs:
        print(f"error: blob {path} does not match its hash; not copied", file=sys.stderr)
    return 1 if result.corrupt_blobs else 0


def cmd_import_scans(args: argparse.Namespace) -> int:
    import signal
    import threading

    from sync_server.consumer.scan_import import ScanImporter
    from sync_server.consumer.scans import place_key
    from sync_server.service import open_server_engine

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = _config(args)
    engine = open_server_engine(cfg)
    importer = ScanImporter(engine, args.log, place_key(cfg.web_secret_key()), cfg.scans)
    if not args.follow:
        stored = importer.run_once()
        print(f"{stored} scans imported from {args.log} ({importer.skipped} lines not counted)")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stored = importer.follow(stop, args.interval)
    print(f"{stored} scans imported from {args.log} ({importer.skipped} lines not counted)")
    return 0
