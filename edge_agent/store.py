"""The edge SQLite file: open it durably (WAL, synchronous=FULL) and apply ordered migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("edge")


@migrations()
def m001_journal(db: Database) -> None:
    db.execute(
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            clock TEXT NOT NULL,
            body TEXT NOT NULL,
            prev TEXT,
            hash TEXT NOT NULL,
            sig TEXT NOT NULL,
            written_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sync_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            acked_seq INTEGER NOT NULL DEFAULT 0,
            last_ack_at REAL,
            blocked_code TEXT,
            blocked_seq INTEGER,
            blocked_detail TEXT,
            blocked_at REAL
        )"""
    )
    db.execute("INSERT INTO sync_state (id, acked_seq) VALUES (1, 0)")
    db.execute(
        """CREATE TABLE catalog (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            payload TEXT NOT NULL,
            received_at REAL NOT NULL
        )"""
    )


@migrations()
def m002_projections(db: Database) -> None:
    db.execute(
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY,
            lot TEXT NOT NULL UNIQUE,
            product_code TEXT NOT NULL,
            product_name TEXT NOT NULL,
            production_date TEXT NOT NULL,
            opened_seq INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            status TEXT NOT NULL,
            closed_seq INTEGER,
            closed_at TEXT,
            quantity REAL,
            unit TEXT,
            expiry_date TEXT,
            last_seq INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE steps (
            seq INTEGER PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES batches(batch_id),
            step_code TEXT NOT NULL,
            step_name TEXT NOT NULL,
            measured TEXT NOT NULL,
            note TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX steps_batch ON steps(batch_id, seq)")
    db.execute(
        """CREATE TABLE label_runs (
            seq INTEGER PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES batches(batch_id),
            copies INTEGER NOT NULL,
            formats TEXT NOT NULL,
            printer TEXT NOT NULL,
            files TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )


@migrations()
def m003_photos(db: Database) -> None:
    db.execute(
        """CREATE TABLE photos (
            sha256 TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            camera TEXT NOT NULL,
            purpose TEXT NOT NULL,
            batch_id TEXT,
            taken_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX photos_batch ON photos(batch_id, seq)")
    # Every file of a photo (full, thumbnail, public derivatives) and its upload state.
    db.execute(
        # One file can serve several roles (a small frame is its own thumbnail; a frame without
        # faces is its own public copy) and several photos (a frozen camera repeats frames).
        """CREATE TABLE photo_files (
            sha256 TEXT NOT NULL,
            photo_sha256 TEXT NOT NULL,
            kind TEXT NOT NULL,
            seq INTEGER NOT NULL,
            evidence INTEGER NOT NULL,
            uploaded_at REAL,
            evicted_at REAL,
            PRIMARY KEY (sha256, photo_sha256, kind)
        )"""
    )
    db.execute("CREATE INDEX photo_files_pending ON photo_files(uploaded_at, evicted_at, seq)")


@migrations()
def m004_print_jobs(db: Database) -> None:
    db.execute("ALTER TABLE label_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'batch'")
    db.execute("ALTER TABLE label_runs ADD COLUMN serial_from INTEGER")
    db.execute("ALTER TABLE label_runs ADD COLUMN serial_to INTEGER")
    # The print queue: a job is written in the same transaction as its labels.printed event and
    # survives restarts; ``done`` counts labels sent, so a long job resumes where it stopped.
    db.execute(
        """CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL UNIQUE,
            batch_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            copies INTEGER NOT NULL,
            serial_from INTEGER,
            format TEXT NOT NULL,
            printer TEXT NOT NULL,
            state TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT '',
            next_try REAL NOT NULL DEFAULT 0,
            files TEXT NOT NULL DEFAULT '[]'
        )"""
    )


@migrations()
def m005_device_lot_index(db: Database) -> None:
    # This device's lot letter, from the enrolment answer (edge_agent/lot_letter.py). Not a
    # projection of the journal: rebuilding projections must leave it alone.
    db.execute(
        """CREATE TABLE device_lot_index (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            lot_index INTEGER NOT NULL,
            received_at REAL NOT NULL
        )"""
    )


@migrations()
def m006_form_tokens(db: Database) -> None:
    # Touchscreen forms already carried out (issue 13: a double tap must not print twice):
    # the token of each rendered form, written in the same transaction as its event, and the
    # page its first submit led to. Not a projection: rebuilding projections leaves it alone.
    db.execute(
        """CREATE TABLE form_tokens (
            token TEXT PRIMARY KEY,
            location TEXT NOT NULL,
            seq INTEGER NOT NULL,
            used_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX form_tokens_used ON form_tokens(used_at)")


@migrations()
def m007_supply(db: Database) -> None:
    # Issue 15: receipts (stock per receiving lot), their uses in batches, shipments,
    # corrections (applied to the rows above; the original events stay) and voided batches.
    db.execute(
        """CREATE TABLE receipts (
            receipt_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            lot TEXT NOT NULL UNIQUE,
            supplier_id TEXT NOT NULL,
            supplier_name TEXT NOT NULL,
            material_code TEXT NOT NULL,
            material_name TEXT NOT NULL,
            supplier_lot TEXT NOT NULL,
            quantity REAL NOT NULL,
            unit TEXT NOT NULL,
            received_on TEXT NOT NULL,
            photo TEXT,
            source TEXT,
            at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE input_uses (
            seq INTEGER PRIMARY KEY,
            batch_id TEXT NOT NULL,
            receipt_id TEXT NOT NULL,
            lot TEXT NOT NULL,
            quantity REAL NOT NULL,
            unit TEXT NOT NULL,
            override INTEGER NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX input_uses_receipt ON input_uses(receipt_id)")
    db.execute("CREATE INDEX input_uses_batch ON input_uses(batch_id, seq)")
    db.execute(
        """CREATE TABLE shipments (
            seq INTEGER PRIMARY KEY,
            shipment_id TEXT NOT NULL UNIQUE,
            batch_id TEXT NOT NULL,
            lot TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            customer_name TEXT NOT NULL,
            quantity REAL NOT NULL,
            unit TEXT NOT NULL,
            shipped_on TEXT NOT NULL,
            serial_from INTEGER,
            serial_to INTEGER,
            note TEXT NOT NULL,
            override INTEGER NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX shipments_batch ON shipments(batch_id, seq)")
    db.execute(
        """CREATE TABLE corrections (
            seq INTEGER PRIMARY KEY,
            target_seq INTEGER NOT NULL,
            target_type TEXT NOT NULL,
            changes TEXT NOT NULL,
            reason TEXT NOT NULL,
            override INTEGER NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX corrections_target ON corrections(target_seq, seq)")
    db.execute("ALTER TABLE batches ADD COLUMN voided_seq INTEGER")
    db.execute("ALTER TABLE batches ADD COLUMN void_reason TEXT")


def open_db(path: Path) -> Database:
    """Open (creating if needed) the journal database, migrated to the newest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: once the UI says "saved", the event survives a power cut (DESIGN.md §3).
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    db = Database(conn)
    migrations.apply(db)
    return db
