"""The server's tables (SQLAlchemy Core) and how to open the database they live in."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
)

from sync_server.store.meta import metadata
from sync_server.store.office_tables import (
    audit_log,
    device_commands,
    device_decisions,
    notify_outbox,
    notify_subscriptions,
)
from sync_server.store.supply_tables import (
    corrections,
    input_uses,
    recall_lots,
    recalls,
    receipts,
    shipments,
)

__all__ = [
    "audit_log",
    "corrections",
    "device_commands",
    "device_decisions",
    "input_uses",
    "metadata",
    "notify_outbox",
    "notify_subscriptions",
    "recall_lots",
    "recalls",
    "receipts",
    "shipments",
]


facilities = Table(
    "facilities",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("commune", Text, nullable=False, default=""),
    Column("district", Text, nullable=False, default=""),
    Column("province", Text, nullable=False, default=""),
    Column("catalog", JSON, nullable=False),
    Column("catalog_version", Integer, nullable=False, default=1),
    # The catalog version last confirmed published on the devices' retained config topic; a
    # lower value than catalog_version means a publish is still owed (retried by the server).
    Column("published_version", Integer, nullable=False, default=0),
    # WGS 84 position for the office map; optional in the catalog file.
    Column("latitude", Float),
    Column("longitude", Float),
    # Issue 16: a contact phone, and disabling (its devices are refused, its pages stay).
    Column("phone", Text),
    Column("disabled_at", Float),
    Column("disabled_reason", Text),
)

devices = Table(
    "devices",
    metadata,
    Column("dev_id", String(64), primary_key=True),
    Column("facility_code", String(16), ForeignKey("facilities.code"), nullable=False),
    # Null until the device enrols (ocop edge enroll) or is registered with a key by hand.
    Column("public_key", String(64)),
    Column("registered_at", Float, nullable=False),
    Column("enrolled_at", Float),
    # The device's unit-label MAC key (base64url), handed over at enrolment: it lets the server
    # tell genuine unit codes from forged ones before a batch syncs.
    Column("label_key", String(64)),
    # Mosquitto PBKDF2-SHA512 hash of the device's broker password; never the password itself.
    Column("mqtt_password_hash", String(200)),
    Column("revoked_at", Float),
    Column("revoked_reason", Text),
    Column("head_seq", Integer, nullable=False, default=0),
    Column("head_hash", String(64)),
    Column("blocked_code", String(32)),
    Column("blocked_seq", Integer),
    Column("blocked_detail", Text),
    Column("last_heard", Float),
    Column("status", JSON),
    # The device's lot letter (trace_protocol.links.lot_letter), unique within its facility,
    # assigned at registration so that devices never mint the same lot code offline. Null for
    # devices enrolled before lot letters (migration 0002): they mint the old lot form.
    Column("lot_index", Integer),
    # Issue 16: a name the office gives it ("Máy sấy 2"), and the identity chain of a device
    # re-enrolled after a block: the old id's row names the new one and the other way round.
    Column("name", Text),
    Column("replaced_by", String(64)),
    Column("replaces", String(64)),
    Index("devices_lot_index", "facility_code", "lot_index", unique=True),
)

events = Table(
    "events",
    metadata,
    Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("clock", String(10), nullable=False),
    Column("body", JSON, nullable=False),
    Column("prev", String(64)),
    Column("hash", String(64), nullable=False),
    Column("sig", String(100), nullable=False),
    Column("batch_id", String(36)),
    Column("received_at", Float, nullable=False),
    PrimaryKeyConstraint("dev_id", "seq"),
    Index("events_batch", "dev_id", "batch_id", "seq"),
    # GET /epcis/events pages through events in record order (sync_server/epcis/query.py).
    Index("events_record_order", "received_at", "dev_id", "seq"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("code", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("event", JSON),
    Column("received_at", Float, nullable=False),
)

device_rejects = Table(
    "device_rejects",
    metadata,
    # What arrived on a device's topics but is not the device's (issue 12, findings 2, 3, 7, 9):
    # one row per device and kind (forged: events that do not verify under the device's key;
    # malformed: payloads that do not parse; status: status messages that do not parse or
    # verify), a counter and the latest samples, never a row per message
    # (sync_server/ingest/rejects.py).
    Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("last_code", String(32), nullable=False),
    Column("last_detail", Text, nullable=False),
    Column("samples", JSON, nullable=False),
    PrimaryKeyConstraint("dev_id", "kind"),
)

enrolment_tokens = Table(
    "enrolment_tokens",
    metadata,
    # SHA-256 of the one-time token: a database leak does not leak usable tokens.
    Column("token_hash", String(64), primary_key=True),
    Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
    Column("facility_code", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64)),
    Column("facility_code", String(16)),
    Column("kind", String(32), nullable=False),
    # What the alert is about when a device can have several of one kind open (a unit code).
    Column("subject", String(64)),
    Column("detail", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolved_by", String(64)),
)

blob_refs = Table(
    "blob_refs",
    metadata,
    # One row per photo file a committed snapshot.taken event refers to.
    Column("sha256", String(64), nullable=False),
    Column("dev_id", String(64), nullable=False),
    Column("kind", String(12), nullable=False),  # full, thumb, public, public_thumb
    Column("seq", Integer, nullable=False),
    Column("camera", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("batch_id", String(36)),
    Column("received_at", Float),
    # A file may play several roles: a frame with no face is its own public copy.
    PrimaryKeyConstraint("dev_id", "sha256", "kind"),
    Index("blob_refs_batch", "dev_id", "batch_id"),
)

batches = Table(
    "batches",
    metadata,
    Column("dev_id", String(64), nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("gtin", String(14)),
    Column("facility_code", String(16), nullable=False),
    Column("product_code", String(16), nullable=False),
    Column("product", JSON, nullable=False),
    Column("facility", JSON, nullable=False),
    Column("production_date", String(10), nullable=False),
    Column("opened_at", String(40), nullable=False),
    Column("status", String(10), nullable=False),
    Column("closed_at", String(40)),
    Column("quantity", Float),
    Column("unit", String(16)),
    Column("expiry_date", String(10)),
    # A batch opened by mistake (batch.voided, issue 15): status "voided", the time and why.
    Column("voided_at", String(40)),
    Column("void_reason", Text),
    # The lot as consumers resolve it: equal to ``lot`` and unique, so a lot is exactly one
    # batch. Null only for a batch that lost its lot in migration 0002 (an older database that
    # already held the lot twice, or a batch that named another facility); since then ingest
    # quarantines such events instead of committing them (sync_server/ingest/binding.py).
    Column("public_lot", String(20)),
    # Server time the batch.opened event was committed: "recent" means recently recorded here,
    # never the device-supplied ``opened_at``.
    Column("received_at", Float),
    PrimaryKeyConstraint("dev_id", "batch_id"),
    Index("batches_lot", "lot"),
    Index("batches_public_lot", "public_lot", unique=True),
    Index("batches_received", "received_at"),
)

users = Table(
    "users",
    metadata,
    # Office accounts. Passwords are stored as werkzeug hashes (scrypt), never in clear.
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # admin | officer
    Column("created_at", Float, nullable=False),
    Column("disabled_at", Float),
    Column("last_login_at", Float),
    # Bumped on password change or disable: every session signed with an older epoch ends.
    Column("session_epoch", Integer, nullable=False, default=1),
    # Issue 16: the districts an officer may see (a JSON list of district names as the
    # facilities table writes them); null: the whole province. Admins always see everything.
    Column("districts", JSON),
    Column("email", Text),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    # SHA-256 of the bearer token; the token itself is shown once, at creation.
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
)

office_sessions = Table(
    "office_sessions",
    metadata,
    # One row per logged-in browser: SHA-256 of the random id its session cookie carries.
    # Logging out deletes the row (sync_server/accounts/sessions.py).
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("office_sessions_user", "username"),
)

throttles = Table(
    "throttles",
    metadata,
    # Recent failures per (scope, key), e.g. ("login", user + keyed hash of the client network),
    # shared by every web worker (sync_server/store/throttle.py).
    Column("scope", String(16), nullable=False),
    Column("key", String(100), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_at", Float, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

scans = Table(
    "scans",
    metadata,
    # One row per consumer page opened from a label (batch or unit code).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("lot", String(20), nullable=False),
    Column("serial", String(20)),
    Column("gtin", String(14)),
    Column("facility_code", String(16)),
    Column("verdict", String(16), nullable=False),
    # Keyed hash of the client's network (/24 IPv4, /48 IPv6): "how many places", no addresses.
    Column("place", String(16), nullable=False),
    Index("scans_code", "lot", "serial"),
    Index("scans_at", "at"),
)

scan_imports = Table(
    "scan_imports",
    metadata,
    # How far `ocop server import-scans` has read an nginx log of cached batch-page views
    # (sync_server/consumer/scan_import.py): the file's inode and the byte after the last line
    # imported, updated in the transaction that stores that line's scans (none lost or doubled).
    Column("source", String(200), primary_key=True),
    Column("inode", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

consumer_reports = Table(
    "consumer_reports",
    metadata,
    # A consumer's "report this product" form from a doubtful label's page (issue 13). The
    # office sees it with an alert. No address is kept: ``place`` is the keyed network hash
    # of sync_server/consumer/scans.py; the phone number is only there when the consumer
    # chose to give it.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("lot", String(20), nullable=False),
    Column("serial", String(20), nullable=False),
    Column("gtin", String(14)),
    Column("facility_code", String(16)),
    Column("verdict", String(16), nullable=False),
    Column("where_bought", Text, nullable=False),
    Column("phone", String(20)),
    # SHA-256 and type (jpeg, png) of the photo, stored under <data_dir>/reports; office only.
    Column("photo_sha256", String(64)),
    Column("photo_type", String(8)),
    Column("place", String(16), nullable=False),
    Index("consumer_reports_created", "created_at"),
)


READ_ONLY = "ocop_read_only"
WAL_RETRY_S = 30.0


def _set_wal(cur: Any) -> None:
    """Switch a new database to WAL. The switch needs the database to itself and, unlike a
    write, does not wait in the busy handler: processes opening a brand-new database at the
    same moment retry here (once it is WAL the setting persists and this returns at once)."""
    deadline = time.monotonic() + WAL_RETRY_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def reading(engine: Engine) -> Connection:
    """A connection for reads only (web pages, reports). On SQLite it starts a plain deferred
    transaction instead of taking the write lock, so page views neither wait for ingest nor
    hold it up. Never write through it: nothing commits it."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def open_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL and a busy timeout so web and ingest can share it.

    Any other URL (``postgresql+psycopg://…``) gets the driver's defaults: READ COMMITTED, with
    ingest serialising one device's chunks by locking its row (docs/architecture.md).
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy's "begin" hook below issue BEGIN, as its pysqlite docs advise.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            _set_wal(cur)
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            if conn.get_execution_options().get(READ_ONLY):
                # A page's reads (see reading()): a WAL snapshot, no lock; writers go on.
                conn.exec_driver_sql("BEGIN")
            else:
                # Take the write lock up front: ingest reads the head and writes after it.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create or migrate the tables to the newest revision (sync_server/migrations)."""
    from sync_server.store.migrations import upgrade_to_head  # its env.py imports this module

    upgrade_to_head(engine)
