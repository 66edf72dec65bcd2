"""``ocop server notify --test ADDRESS``: send one mail through the configured SMTP server, to
check the settings and the password before officers rely on them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sync_server.config import ServerConfig
from sync_server.notify.compose import check_mail
from sync_server.notify.sender import Mailer, SendError


def register_notify(sub: Any, config_of: Any) -> None:
    """Add the ``notify`` command; ``config_of(args)`` loads the server config."""
    p = sub.add_parser("notify", help="e-mail notifications: send a test mail (--test ADDRESS)")
    p.add_argument("--test", metavar="ADDRESS", required=True, help="send a test mail here")
    p.set_defaults(func=lambda args: cmd_notify(args, config_of(args)))


def cmd_notify(args: argparse.Namespace, config: ServerConfig) -> int:
    if not config.smtp.enabled:
        print("notify: no [smtp] host in server.toml: e-mail is off", file=sys.stderr)
        return 2
    if "@" not in args.test:
        print(f"notify: {args.test!r} is not an e-mail address", file=sys.stderr)
        return 2
    msg = check_mail(args.test, config.smtp.from_address, config.office_url)
    try:
        with Mailer(config.smtp, config.smtp_password()) as mailer:
            mailer.send(msg)
    except SendError as exc:
        print(f"notify: not sent: {exc}", file=sys.stderr)
        return 1
    print(f"sent a test mail to {args.test} through {config.smtp.host}:{config.smtp.port}")
    return 0
