"""``ocop server add-user | set-user | set-password | disable-user | users | add-api-token |
revoke-api-token | audit``: office accounts, machine tokens and the audit log, from the shell.

Every change is written to the audit log under ``cli:<unix user>`` (sync_server/accounts/audit.py).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sync_server.accounts.users import ROLES


def register_accounts(sub: Any, config_of: Any) -> None:
    """Add the account commands; ``config_of(args)`` loads the server config."""

    def bind(p: argparse.ArgumentParser, func: Any) -> None:
        p.set_defaults(func=lambda args: func(args, config_of(args)))

    p = sub.add_parser("add-user", help="create an office account (admin or officer)")
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, required=True)
    _password_source(p)
    _district_email(p)
    bind(p, cmd_add_user)

    p = sub.add_parser(
        "set-user", help="set an officer's districts and/or e-mail address (audited)"
    )
    p.add_argument("username")
    _district_email(p)
    p.add_argument("--province", action="store_true", help="no district limit: the whole province")
    p.add_argument("--no-email", action="store_true", help="remove the e-mail address")
    bind(p, cmd_set_user)

    p = sub.add_parser(
        "set-password", help="change an office account's password (ends its sessions)"
    )
    p.add_argument("username")
    _password_source(p)
    bind(p, cmd_set_password)

    p = sub.add_parser("disable-user", help="disable an office account (ends its sessions)")
    p.add_argument("username")
    bind(p, cmd_disable_user)

    p = sub.add_parser("users", help="list office accounts (JSON lines, no password hashes)")
    bind(p, cmd_users)

    p = sub.add_parser(
        "add-api-token", help="create a bearer token for GET /epcis/events; shown once"
    )
    p.add_argument("name", help="who uses it, e.g. national-portal")
    bind(p, cmd_add_api_token)

    p = sub.add_parser("revoke-api-token", help="revoke a bearer token by name")
    p.add_argument("name")
    bind(p, cmd_revoke_api_token)

    p = sub.add_parser("audit", help="the audit log of office actions, newest first")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="from this day (VN time)")
    p.add_argument("--user", default="", help="only this user's actions")
    p.add_argument("--action", default="", help="only this action, e.g. user.edit")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    bind(p, cmd_audit)


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _district_email(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--district",
        action="append",
        metavar="D",
        help="limit an officer to this district, as the facilities name it (repeatable)",
    )
    p.add_argument("--email", help="e-mail address for alert notifications")


def _password_source(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    src.add_argument(
        "--generate-to",
        type=Path,
        metavar="FILE",
        help="generate a random password and write it to FILE (mode 0600), never to the screen",
    )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.generate_to is not None:
        password = secrets.token_urlsafe(15)
        path: Path = args.generate_to
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
        return password
    if not sys.stdin.isatty():
        raise SystemExit(
            "error: no terminal to ask for a password; use --password-stdin or --generate-to FILE"
        )
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("error: the two passwords differ")
    return first


def _engine(cfg: Any) -> Any:
    from sync_server.service import open_server_engine

    return open_server_engine(cfg)


def cmd_add_user(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import AccountError, create_user

    try:
        create_user(
            _engine(cfg),
            args.username,
            _read_password(args),
            args.role,
            districts=args.district,
            email=args.email,
        )
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = f"; password in {args.generate_to}" if args.generate_to else ""
    print(f"user {args.username} ({args.role}) created{where}")
    return 0


def cmd_set_user(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import UNSET, AccountError, set_user

    if args.province and args.district:
        print("error: --province or --district, not both", file=sys.stderr)
        return 2
    if args.no_email and args.email:
        print("error: --email or --no-email, not both", file=sys.stderr)
        return 2
    districts = [] if args.province else (args.district or UNSET)
    email = None if args.no_email else (UNSET if args.email is None else args.email)
    try:
        changed = set_user(_engine(cfg), args.username, districts=districts, email=email)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.username} " + ("changed" if changed else "unchanged"))
    return 0


def cmd_audit(args: argparse.Namespace, cfg: Any) -> int:
    from datetime import datetime, time

    from sync_server.accounts.audit import AuditFilter, changed_rows, entries, show
    from sync_server.vn_time import VN_TZ

    since = datetime.combine(args.since, time(), VN_TZ).timestamp() if args.since else None
    where = AuditFilter(user=args.user, action=args.action, since=since)
    with _engine(cfg).connect() as conn:
        rows = entries(conn, where)
    for r in rows:
        at = datetime.fromtimestamp(float(r["at"]), VN_TZ).isoformat(timespec="seconds")
        if args.json:
            print(json.dumps({**r, "at": at}, ensure_ascii=False, sort_keys=True))
            continue
        changed = "; ".join(
            f"{k + ': ' if k else ''}{show(b) or '-'} → {show(a) or '-'}"
            for k, b, a in changed_rows(r["before"], r["after"])
        )
        text = "  ".join(v for v in (at, r["username"], r["action"], r["target"], changed) if v)
        print(text + (f"  ({r['detail']})" if r["detail"] else ""))
    return 0


def cmd_set_password(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import AccountError, set_password

    try:
        set_password(_engine(cfg), args.username, _read_password(args))
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"password of {args.username} changed; its open sessions have ended")
    return 0


def cmd_disable_user(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import AccountError, disable_user

    try:
        disable_user(_engine(cfg), args.username)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.username} disabled")
    return 0


def cmd_users(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import list_users

    with _engine(cfg).connect() as conn:
        for row in list_users(conn):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_add_api_token(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import AccountError, create_api_token

    try:
        token = create_api_token(_engine(cfg), args.name)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Shown once, to the administrator who asked for it; only its hash is stored.
    print(f"API token {args.name}: {token}")
    print("use it as: Authorization: Bearer <token>")
    return 0


def cmd_revoke_api_token(args: argparse.Namespace, cfg: Any) -> int:
    from sync_server.accounts.users import AccountError, revoke_api_token

    try:
        revoke_api_token(_engine(cfg), args.name)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"API token {args.name} revoked")
    return 0
