"""The audit log (issue 16): every office action, who, when, what, with before and after.

:func:`record` is called in the transaction of the action itself, so an action and its log row
are committed together or not at all. ``who`` is the office account, ``cli:<unix user>`` for a
command run on the server (:func:`cli_actor`), or the name typed at a failed login. Values are
JSON; secrets (passwords, tokens, password hashes) never go in.
"""

from __future__ import annotations

import getpass
import time
from typing import Any

from sqlalchemy import Connection, insert

from sync_server.store.office_tables import audit_log

MAX_DETAIL = 2000


def record(
    conn: Connection,
    who: str,
    action: str,
    target: str,
    *,
    facility: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: str = "",
    now: float | None = None,
) -> None:
    """Add one row to the audit log (``action`` like ``facility.edit``, ``target`` what it
    acted on: a facility code, device id, lot, username)."""
    conn.execute(
        insert(audit_log).values(
            at=time.time() if now is None else now,
            username=who[:64],
            action=action[:40],
            target=target[:120],
            facility_code=facility,
            before=before,
            after=after,
            detail=detail[:MAX_DETAIL],
        )
    )


def cli_actor() -> str:
    """Who acts from the command line on the server, as the audit log names them."""
    return f"cli:{getpass.getuser()}"
