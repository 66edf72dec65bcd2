"""``ocop edge …``: make a config and key, import a catalog, run the agent, show its state."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any


def _config(args: argparse.Namespace) -> Any:
    from edge_agent.config import ConfigError, load_config

    path = args.config or os.environ.get("OCOP_EDGE_CONFIG") or "/etc/ocop/edge.toml"
    try:
        return load_config(Path(path))
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from exc


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help="edge.toml (default: $OCOP_EDGE_CONFIG or /etc/ocop/edge.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="write an edge.toml and make the device key")
    p.add_argument("--device-id", required=True)
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="where to write edge.toml")
    p.add_argument("--mqtt-host", default="127.0.0.1")
    p.add_argument("--mqtt-port", type=int, default=1883)
    p.add_argument("--ui-host", default="127.0.0.1")
    p.add_argument("--ui-port", type=int, default=8080)
    p.add_argument("--lot-prefix", default="")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("enroll", help="enrol with the office's one-time token")
    p.add_argument("--server", required=True, help="the server's base URL")
    p.add_argument("--facility", required=True, help="facility code the token was issued for")
    token = p.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="one-time enrolment token")
    token.add_argument(
        "--token-file",
        help="read the token from this file ('-' = standard input), so it never shows in ps",
    )
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser(
        "continue",
        help="continue under the new device id the office gave this blocked device (agent stopped)",
    )
    p.add_argument(
        "--as", dest="new_dev", required=True, metavar="NEW_ID", help="the new device id"
    )
    token = p.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="the one-time token shown on the office's unblock page")
    token.add_argument("--token-file", help="read the token from this file ('-' = standard input)")
    p.add_argument("--server", help="the server's base URL (default: the stored catalog's)")
    p.set_defaults(func=cmd_continue)

    p = sub.add_parser("show-key", help="print this device's public key (made on first use)")
    p.set_defaults(func=cmd_show_key)

    p = sub.add_parser("import-config", help="store a catalog from a file (as on the config topic)")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_import_config)

    p = sub.add_parser("run", help="run the touchscreen UI and the sync worker")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="print the journal and sync state as JSON")
    p.set_defaults(func=cmd_status)


def cmd_init(args: argparse.Namespace) -> int:
    from edge_agent.config import ConfigError, load_config
    from trace_protocol.signing import DeviceKey

    text = (
        f'device_id = "{args.device_id}"\n'
        f'data_dir = "{args.data_dir.resolve()}"\n'
        f'lot_prefix = "{args.lot_prefix}"\n\n'
        f'[ui]\nhost = "{args.ui_host}"\nport = {args.ui_port}\n\n'
        f'[mqtt]\nhost = "{args.mqtt_host}"\nport = {args.mqtt_port}\n'
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    try:
        cfg = load_config(args.out)
    except ConfigError as exc:
        args.out.unlink()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key = DeviceKey.load_or_create(cfg.key_path)
    print(f"wrote {args.out}; device key at {cfg.key_path}")
    print(f"public key: {key.public_key_b64}")
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    from edge_agent.enrolment import EnrolError, enroll
    from trace_protocol.links import lot_letter

    cfg = _config(args)
    token = _token(args)
    if token is None:
        return 2
    try:
        done = enroll(cfg, args.server, args.facility, token)
    except EnrolError as exc:
        print(f"error: enrolment failed: {exc}", file=sys.stderr)
        return 2
    letter = f", lot letter {lot_letter(done.lot_index)}" if done.lot_index else ""
    print(f"device {done.device} enrolled for facility {done.facility}{letter}")
    print(f"catalog version {done.catalog_version} stored; broker credentials saved")
    if (done.mqtt_host, done.mqtt_port) != (cfg.mqtt.host, cfg.mqtt.port):
        print(
            f"note: the server says devices reach the broker at {done.mqtt_host}:{done.mqtt_port},"
            f" edge.toml has {cfg.mqtt.host}:{cfg.mqtt.port}"
        )
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """``--token`` or the content of ``--token-file``; None (after saying why) when unreadable."""
    if args.token_file is None:
        return str(args.token)
    try:
        raw = sys.stdin.read() if args.token_file == "-" else Path(args.token_file).read_text()
    except OSError as exc:
        print(f"error: cannot read the token: {exc}", file=sys.stderr)
        return None
    token = "".join(raw.split())
    if not token:
        print("error: the token file is empty", file=sys.stderr)
        return None
    return token


def cmd_continue(args: argparse.Namespace) -> int:
    """What the agent does on the office's ``continue`` command, by hand at the Pi: for when
    the command cannot reach it (docs/protocol.md, "Unblocking")."""
    import socket

    from edge_agent.agent import open_agent
    from edge_agent.continuation import ContinuationError, continue_as

    cfg = _config(args)
    token = _token(args)
    if token is None:
        return 2
    # The running agent keeps the old id in memory and would write on under it: stop it first.
    # Its touchscreen answering on the UI port is the sign that it runs.
    try:
        socket.create_connection((cfg.ui.host, cfg.ui.port), timeout=1).close()
    except OSError:
        pass
    else:
        print(
            f"error: the agent is running (its touchscreen answers on {cfg.ui.host}:"
            f"{cfg.ui.port}); stop it first (systemctl stop ocop-edge)",
            file=sys.stderr,
        )
        return 2
    agent = open_agent(cfg, with_sync=False)
    old = agent.journal.dev
    try:
        if agent.journal.sync_state().blocked is None:
            print(f"error: {old} is not blocked: nothing to continue", file=sys.stderr)
            return 2
        continue_as(cfg, agent.journal, args.new_dev, token, args.server or agent.upload_base_url())
    except ContinuationError as exc:
        print(f"error: could not continue as {args.new_dev}: {exc}", file=sys.stderr)
        return 2
    finally:
        agent.close()
    archive = cfg.data_dir / f"journal-{old}.db"
    print(f"device {old} continues as {args.new_dev}; the old journal is kept in {archive}")
    print("start the agent again (systemctl start ocop-edge): it syncs the journal from seq 1")
    return 0


def cmd_show_key(args: argparse.Namespace) -> int:
    from trace_protocol.signing import DeviceKey

    print(DeviceKey.load_or_create(_config(args).key_path).public_key_b64)
    return 0


def cmd_import_config(args: argparse.Namespace) -> int:
    from edge_agent.agent import open_agent
    from trace_protocol.catalog import CatalogError, decode_catalog

    try:
        catalog = decode_catalog(args.file.read_bytes())
    except (OSError, CatalogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    agent = open_agent(_config(args), with_sync=False)
    try:
        stored = agent.accept_catalog(catalog)
    finally:
        agent.close()
    if not stored:
        print(f"kept the newer catalog already stored (file has version {catalog.version})")
        return 1
    print(f"catalog version {catalog.version} stored: {len(catalog.products)} products")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.service import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(_config(args))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from edge_agent.agent import open_agent

    agent = open_agent(_config(args), with_sync=False)
    try:
        state = agent.journal.sync_state()
    finally:
        agent.close()
    print(
        json.dumps(
            {
                "device": agent.config.device_id,
                "head": state.head,
                "acked": state.acked,
                "backlog": state.backlog,
                "blocked": None if state.blocked is None else state.blocked.__dict__,
            },
            ensure_ascii=False,
        )
    )
    return 0
