"""``ocop device …``: render what goes on a Pi's SD card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firmware_config.device import (
    CAMERAS,
    DISPLAYS,
    PRINT_FORMATS,
    DeviceSpec,
    SpecError,
    default_kit_spec,
    render_bundle,
)
from firmware_config.render import RenderError


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "provision",
        help="render one Pi's first-boot bundle (copy it to the SD card's boot partition)",
        description="Render the folder that installs and enrols one Raspberry Pi at first boot.",
    )
    p.add_argument("--out", required=True, type=Path, help="folder to write the bundle into")
    p.add_argument("--facility", required=True, help="facility code, e.g. KC")
    p.add_argument("--device", required=True, help="device id, e.g. kc-line-1")
    p.add_argument("--server", required=True, help="server base URL for enrolment")
    p.add_argument("--token", required=True, help="one-time token from `ocop server add-device`")
    p.add_argument("--mqtt-host", default="", help="broker host (default: the server's host)")
    p.add_argument(
        "--mqtt-port", type=int, default=0, help="broker port (default 8883 with TLS, else 1883)"
    )
    p.add_argument("--mqtt-tls", action="store_true", help="connect to the broker over TLS")
    p.add_argument(
        "--mqtt-ca",
        type=Path,
        metavar="PEM",
        help="CA certificate of the broker (shipped as /etc/ocop/mqtt-ca.pem; implies --mqtt-tls)",
    )
    p.add_argument("--ui-port", type=int, default=8080, help="touchscreen UI port (loopback)")
    p.add_argument("--display", choices=DISPLAYS, default="touchscreen")
    p.add_argument("--camera", choices=CAMERAS, default="picamera")
    p.add_argument(
        "--camera-interval",
        type=int,
        default=300,
        metavar="SECONDS",
        help="periodic snapshot interval (0 = none)",
    )
    p.add_argument("--timezone", default="Asia/Ho_Chi_Minh")
    p.add_argument(
        "--ntp",
        action="append",
        metavar="HOST",
        help="NTP server (repeatable; default vn.pool.ntp.org)",
    )
    p.add_argument("--lot-prefix", default="", help="lot code prefix (default: the facility)")
    p.add_argument("--printer-url", default="", help="edge.toml printer.url (default: files)")
    p.add_argument("--printer-format", choices=PRINT_FORMATS, default="png+pdf")
    kit = p.add_mutually_exclusive_group()
    kit.add_argument("--kit-wheel", type=Path, help="ship this wheel of the kit in the bundle")
    kit.add_argument(
        "--kit-spec", help=f"pip requirement to install instead (default {default_kit_spec()})"
    )
    p.add_argument("--prefix", default="/opt/ocop", help="the kit's venv on the Pi")
    p.add_argument("--data-dir", default="/var/lib/ocop-edge", help="the agent's data on the Pi")
    p.add_argument(
        "--bundle-dir",
        default="/boot/firmware/ocop",
        help="where this folder will be on the Pi",
    )
    p.add_argument("--force", action="store_true", help="write into a non-empty --out folder")
    p.set_defaults(func=cmd_provision)


def cmd_provision(args: argparse.Namespace) -> int:
    try:
        spec = DeviceSpec(
            facility=args.facility,
            device=args.device,
            server=args.server,
            token=args.token,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            mqtt_tls=args.mqtt_tls,
            mqtt_ca=args.mqtt_ca,
            ui_port=args.ui_port,
            display=args.display,
            camera=args.camera,
            camera_interval_s=args.camera_interval,
            timezone=args.timezone,
            ntp=tuple(args.ntp or ("vn.pool.ntp.org",)),
            lot_prefix=args.lot_prefix,
            printer_url=args.printer_url,
            printer_format=args.printer_format,
            kit_wheel=args.kit_wheel,
            kit_spec=args.kit_spec or default_kit_spec(),
            prefix=args.prefix,
            data_dir=args.data_dir,
            bundle_dir=args.bundle_dir,
        )
        written = render_bundle(spec, args.out, force=args.force)
    except (SpecError, RenderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the bundle: {exc}", file=sys.stderr)
        return 1
    print(f"bundle for {spec.device} (facility {spec.facility}) written to {args.out}:")
    for name in written:
        print(f"  {name}")
    print(
        f"copy the folder to the SD card's boot partition as {spec.bundle_dir}; "
        "see its README.txt. It holds the one-time enrolment token: keep it private."
    )
    return 0
