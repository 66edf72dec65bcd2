"""Cached batch-page views from nginx's scan log, stored as scans (issue 17).

Behind the province bundle's nginx micro-cache (firmware_config/templates/server/
nginx-ocop.conf.j2) a batch page served from the cache never reaches the app, so the app cannot
log it. nginx writes those views, and only those (``$upstream_cache_status`` HIT, STALE or
UPDATING on the batch-page locations), one JSON object a line::

    {"t":1733462400.123,"uri":"/l/KC-NM-261204-01","addr":"203.0.113.9","status":200,"cache":"HIT"}

The views nginx passed to the app (MISS, EXPIRED, BYPASS) are logged by the app as before, and
the bundle turns ``proxy_cache_background_update`` off so that no view reaches the app without
being the client's own request: each view is counted exactly once, by one side or the other.

The lines become rows as the app would have written them for a cached page: status 200 (or a
304 from a cached 200) is verdict ``batch`` with the lot's facility prefix, 404 ``not_found``;
the place is the same keyed hash of the client's network; a path the app would not log (an
invalid GTIN, a code longer than a label carries) is skipped, and so are views past
``scans.per_network_hour`` for one code and network (this importer keeps its own hour's counts,
as each web worker does).

Where the import has read to is kept in ``scan_imports`` (the file's inode and the offset after
the last complete line) and updated in the transaction that stores those lines' scans, so a
crash or restart neither loses nor doubles a row. Rotation (logrotate renames the file and
tells nginx to reopen it): when the log's inode changes, the rest of the old file is read first
from its rotated name (``<log>.1``, Debian's ``delaycompress`` leaves it uncompressed for a day),
then the new file from its start; a file shorter than the offset was truncated and is read from
its start. Run one importer per log (the bundle's ``ocop-scan-import.service``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from sync_server.config import ScansConfig
from sync_server.consumer.scan_budget import ScanBudget
from sync_server.consumer.scans import BATCH, NOT_FOUND, scan_row
from sync_server.store.db import scan_imports, scans
from trace_protocol.links import check_gtin, lot_prefix

log = logging.getLogger(__name__)

CACHED = frozenset({"HIT", "STALE", "UPDATING"})  # views nginx answered without the app
MAX_PASS_BYTES = 4 * 1024 * 1024  # read per transaction; a backlog takes several
_SHORT = re.compile(r"^/l/([^/]+)$")
_DIGITAL_LINK = re.compile(r"^/01/([^/]+)/10/([^/]+)$")


@dataclass(frozen=True)
class Position:
    inode: int
    offset: int


def view_row(line: bytes, key: bytes) -> tuple[dict[str, Any], str] | None:
    """The ``scans`` row of one log line and its place; None for a line that is not a cached
    batch-page view the app would have logged."""
    try:
        entry = json.loads(line)
        uri, cache, status = str(entry["uri"]), str(entry["cache"]), int(entry["status"])
        at, address = float(entry["t"]), str(entry["addr"])
    except (ValueError, KeyError, TypeError):
        log.warning("scan log: unreadable line %r", line[:200])
        return None
    if cache not in CACHED or status not in (200, 304, 404):
        return None
    gtin: str | None = None
    if short := _SHORT.match(uri):
        lot = short[1]
    elif link := _DIGITAL_LINK.match(uri):
        try:
            gtin = check_gtin(link[1])
        except ValueError:
            return None  # the app answers 404 without logging
        lot = link[2]
    else:
        return None
    found = status != 404
    row = scan_row(
        key,
        lot=lot,
        gtin=gtin,
        facility_code=lot_prefix(lot) if found else None,
        verdict=BATCH if found else NOT_FOUND,
        address=address,
        now=at,
    )
    return None if row is None else (row, row["place"])


def _lines(path: Path, offset: int, limit: int) -> tuple[list[bytes], int, bool]:
    """Complete lines of ``path`` from ``offset``, at most about ``limit`` bytes; the offset
    after the last one (a line nginx is still writing waits for the next pass), and whether
    there may be more to read now."""
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(limit)
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) >= limit:  # one line longer than a pass: not nginx's format
        end = len(data)
    return data[:end].splitlines(), offset + end, len(data) >= limit


def _rotated(path: Path, inode: int) -> Path | None:
    """The rotated file that still has ``inode`` (``<log>.1``, or any uncompressed sibling)."""
    candidates = [path.with_name(path.name + ".1")]
    candidates += sorted(path.parent.glob(path.name + ".*"))
    for candidate in candidates:
        try:
            if candidate.stat().st_ino == inode and not candidate.name.endswith(".gz"):
                return candidate
        except OSError:
            continue
    return None


class ScanImporter:
    """Imports one nginx scan log into ``scans``; :meth:`run_once` reads what is new."""

    def __init__(
        self, engine: Engine, path: Path, key: bytes, config: ScansConfig | None = None
    ) -> None:
        self.engine = engine
        self.path = path
        self.source = str(path)[:200]
        self.key = key
        self.budget = ScanBudget((config or ScansConfig()).per_network_hour)
        self.skipped = 0  # lines that are not counted views (over budget, invalid codes)

    def run_once(self) -> int:
        """Import everything complete in the log now; returns the number of scans stored."""
        stored = 0
        while True:
            count, more = self._pass()
            stored += count
            if not more:
                return stored

    def follow(self, stop: threading.Event, interval_s: float = 2.0) -> int:
        """Import every ``interval_s`` until ``stop`` is set; returns the scans stored."""
        stored = 0
        while True:
            try:
                stored += self.run_once()
            except Exception:  # a locked database or an unreadable log: try again later
                log.exception("scan import from %s failed; retrying", self.path)
            if stop.wait(interval_s):
                return stored

    def _pass(self) -> tuple[int, bool]:
        """One transaction: at most MAX_PASS_BYTES of lines and the position after them."""
        try:
            current = self.path.stat()
        except FileNotFoundError:
            return 0, False
        with self.engine.begin() as conn:
            saved = self._position(conn)
            lines, position, more = self._read(saved, current)
            rows = self._rows(lines)
            if rows:
                conn.execute(insert(scans), rows)
            if position != saved:
                self._save(conn, saved, position)
        return len(rows), more

    def _read(
        self, saved: Position | None, current: os.stat_result
    ) -> tuple[list[bytes], Position, bool]:
        if saved is not None and saved.inode != current.st_ino:
            old = _rotated(self.path, saved.inode)
            if old is not None:
                lines, offset, _ = _lines(old, saved.offset, MAX_PASS_BYTES)
                if lines:
                    return lines, Position(saved.inode, offset), True
            else:
                log.warning(
                    "scan log %s was rotated and its old file (inode %d) is gone: views after "
                    "byte %d of it are not counted",
                    self.path,
                    saved.inode,
                    saved.offset,
                )
            saved = Position(current.st_ino, 0)
        if saved is None or current.st_size < saved.offset:
            saved = Position(current.st_ino, 0)  # a new log, or truncated (copytruncate)
        lines, offset, more = _lines(self.path, saved.offset, MAX_PASS_BYTES)
        return lines, Position(current.st_ino, offset), more

    def _rows(self, lines: list[bytes]) -> list[dict[str, Any]]:
        rows = []
        for line in lines:
            if not line.strip():
                continue
            view = view_row(line, self.key)
            if view is None:
                self.skipped += 1
                continue
            row, place = view
            if not self.budget.allow(place, row["lot"], None, now=row["at"]):
                self.skipped += 1  # the app's rule: this network logged this code enough
                continue
            rows.append(row)
        return rows

    def _position(self, conn: Connection) -> Position | None:
        found = conn.execute(
            select(scan_imports.c.inode, scan_imports.c.offset).where(
                scan_imports.c.source == self.source
            )
        ).first()
        return None if found is None else Position(int(found.inode), int(found.offset))

    def _save(self, conn: Connection, saved: Position | None, position: Position) -> None:
        values = {"inode": position.inode, "offset": position.offset, "updated_at": time.time()}
        if saved is None:
            conn.execute(insert(scan_imports).values(source=self.source, **values))
        else:
            conn.execute(
                update(scan_imports).where(scan_imports.c.source == self.source).values(**values)
            )
