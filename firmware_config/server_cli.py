"""``ocop server provision``: render the files of one province's server box into a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from firmware_config.render import RenderError
from firmware_config.server import ServerSpec, SpecError, render_bundle

DEFAULTS = ServerSpec(domain="example.vn")


def register(sub: Any) -> None:
    """Add ``provision`` to the ``ocop server`` sub-commands (called from ocop_cli)."""
    p = sub.add_parser(
        "provision", help="render a server box's config files, units and install.sh into a folder"
    )
    p.add_argument("--out", required=True, type=Path, help="bundle folder (created)")
    p.add_argument("--domain", required=True, help="public web host, e.g. trace.hatinh.gov.vn")
    p.add_argument("--mqtt-domain", default="", help="broker host for devices (default: --domain)")
    p.add_argument("--ingest-workers", type=int, default=DEFAULTS.ingest_workers)
    p.add_argument("--web-workers", type=int, default=DEFAULTS.web_workers)
    p.add_argument(
        "--fleet-size", type=int, default=DEFAULTS.fleet_size, help="devices (broker queues)"
    )
    p.add_argument("--data-dir", default=DEFAULTS.data_dir)
    p.add_argument("--prefix", default=DEFAULTS.prefix, help="virtualenv holding bin/ocop")
    p.add_argument("--config-dir", default=DEFAULTS.config_dir)
    p.add_argument("--tls-cert", default="", help="certificate chain (default: certbot's)")
    p.add_argument("--tls-key", default="", help="its private key (default: certbot's)")
    p.add_argument("--tls-ca", default="", help="CA of a province certificate (devices need it)")
    p.add_argument("--backup-dir", default=DEFAULTS.backup_dir)
    p.add_argument("--keep-backups", type=int, default=DEFAULTS.keep_backups)
    p.set_defaults(func=cmd_provision)


def cmd_provision(args: argparse.Namespace) -> int:
    try:
        spec = ServerSpec(
            domain=args.domain,
            mqtt_domain=args.mqtt_domain,
            ingest_workers=args.ingest_workers,
            web_workers=args.web_workers,
            fleet_size=args.fleet_size,
            data_dir=args.data_dir,
            prefix=args.prefix,
            config_dir=args.config_dir,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_ca=args.tls_ca,
            backup_dir=args.backup_dir,
            keep_backups=args.keep_backups,
        )
        entries = render_bundle(spec, args.out)
    except (SpecError, RenderError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"bundle for {spec.public_base_url} in {args.out}:")
    for e in entries:
        print(f"  {e.name:<28} -> {e.dest}")
    print(f"next: copy the folder to the server and run {args.out.name}/install.sh as root")
    print("      (docs/provisioning-server.md)")
    return 0
