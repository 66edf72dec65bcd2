"""Continue under a new device identity after the office's decision (issue 16; docs/protocol.md,
"Unblocking"): enrol as the new id, archive the old journal, re-record it under the new id.

A Pi restored from an old backup re-uses seqs the server already holds (a ``fork``) and is
blocked for good under its old id. When the office decides that it continues as ``<dev>-r2``,
the server sends a ``continue`` command with the new id and a one-time token that only this
device's key can use. The agent then, in this order:

1. enrols as the new id over HTTP(S) with its own key (the broker password comes back there,
   never on the broker);
2. copies the journal file to ``journal-<old id>.db``, read-only: the old chain as it was;
3. re-records every event of the journal, in one transaction, under the new id at the same seq:
   same type, time and body, plus ``continues = {dev, seq, id}`` naming the original (a
   correction's ``corrects.id`` follows its target to the new id). Seqs do not change, so the
   touchscreen's tables, print jobs and photos stay as they are; the server recognises the
   events it already holds as copies and the others as new (sync_server/ingest/binding.py);
4. stores the new password, lot letter and catalog and ``<data_dir>/device-id`` (which
   overrides ``device_id`` in edge.toml from now on), and asks the process to restart.

Nothing is lost: the server gets every event again under the new id, and the old id's chain
stays on the server and in the archive.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from edge_agent.catalog_store import store_catalog
from edge_agent.config import EdgeConfig
from edge_agent.enrolment import EnrolError, request_enrolment, write_password
from edge_agent.journal import Journal
from edge_agent.lot_letter import store_lot_index
from trace_protocol.envelope import build_event

log = logging.getLogger(__name__)

CONTINUES = "continues"  # the body field naming the original event (docs/protocol.md)


class ContinuationError(Exception):
    """The device could not continue under the new id; it stays as it was."""


def identity_path(data_dir: Path) -> Path:
    """The file that names this device's current id when the office gave it a new one."""
    return data_dir / "device-id"


def continue_as(
    config: EdgeConfig, journal: Journal, new_dev: str, token: str, server_url: str | None
) -> None:
    """Carry this device over to ``new_dev`` (see the module docstring). On any failure before
    the journal is rewritten nothing has changed; the rewrite itself is one transaction."""
    old = journal.dev
    if new_dev == old:
        raise ContinuationError(f"already {new_dev}")
    if not server_url:
        raise ContinuationError("no server URL to enrol with (no catalog yet)")
    with journal.store.read() as db:
        row = db.conn.execute("SELECT payload FROM catalog WHERE id = 1").fetchone()
    facility = json.loads(row[0])["facility"]["code"] if row else None
    if not facility:
        raise ContinuationError("no catalog: the facility is unknown")
    try:
        answer = request_enrolment(config, new_dev, server_url, str(facility), token)
    except EnrolError as exc:
        raise ContinuationError(str(exc)) from exc
    archive = config.data_dir / f"journal-{old}.db"
    _archive(journal, archive)
    with journal.store.transaction() as db:
        conn = db.conn
        _rewrite(conn, journal, old, new_dev)
        conn.execute(
            "UPDATE sync_state SET acked_seq = 0, last_ack_at = NULL, blocked_code = NULL,"
            " blocked_seq = NULL, blocked_detail = NULL, blocked_at = NULL WHERE id = 1"
        )
        if answer.lot_index is not None:
            store_lot_index(db, answer.lot_index)
        store_catalog(db, answer.catalog)
        journal.dev = new_dev  # under the writer's lock: the next append is the new id's
    write_password(config.password_path, answer.password)
    _write_identity(identity_path(config.data_dir), new_dev)
    log.warning("this device continues as %s; the old journal is kept in %s", new_dev, archive)


def _archive(journal: Journal, target: Path) -> None:
    """A consistent copy of the journal file (SQLite's backup API), made read-only."""
    if target.exists():
        target.chmod(0o600)
        target.unlink()
    with journal.store.write() as db:
        dest = sqlite3.connect(target)
        try:
            db.conn.backup(dest)
        finally:
            dest.close()
    target.chmod(0o444)


def _rewrite(conn: sqlite3.Connection, journal: Journal, old: str, new_dev: str) -> None:
    rows = conn.execute("SELECT seq, id, type, at, clock, body FROM events ORDER BY seq").fetchall()
    prev: str | None = None
    new_ids: dict[str, str] = {}
    for seq, old_id, type_, at, clock, body_text in rows:
        body: dict[str, Any] = json.loads(body_text)
        body[CONTINUES] = {"dev": old, "seq": seq, "id": old_id}
        corrects = body.get("corrects")
        if isinstance(corrects, dict) and corrects.get("id") in new_ids:
            body["corrects"] = {**corrects, "id": new_ids[str(corrects["id"])]}
        event = build_event(
            key=journal.key,
            dev=new_dev,
            seq=seq,
            type=type_,
            body=body,
            prev=prev,
            at=datetime.fromisoformat(at),
            clock=clock,
        )
        conn.execute(
            "UPDATE events SET id = ?, body = ?, prev = ?, hash = ?, sig = ? WHERE seq = ?",
            (
                event.id,
                json.dumps(event.body, ensure_ascii=False),
                event.prev,
                event.hash,
                event.sig,
                seq,
            ),
        )
        new_ids[old_id] = event.id
        prev = event.hash


def _write_identity(path: Path, dev: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(dev + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
