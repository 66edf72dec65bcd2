"""Tables of one step back and one step forward (issue 15): receipts, their uses in batches,
shipments, corrections and recalls. Projected from committed events only, except recalls (an
office action). Quantities are the current values, after any ``record.corrected``; the original
values stay in ``events``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from sync_server.store.meta import metadata

receipts = Table(
    "receipts",
    metadata,
    # One row per input.received: raw material from a supplier, with its receiving lot.
    Column("receipt_id", String(36), primary_key=True),
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("facility_code", String(16), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("supplier_id", String(16), nullable=False),
    Column("supplier", JSON, nullable=False),
    Column("material_code", String(16), nullable=False),
    Column("material", JSON, nullable=False),
    Column("supplier_lot", String(40), nullable=False),
    Column("source", JSON),
    # The lot of a kit label the receipt was scanned from: another facility's output lot, the
    # join that makes two facilities' records one chain.
    Column("source_lot", String(20)),
    Column("quantity", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("received_on", String(10), nullable=False),
    Column("photo_sha256", String(64)),
    Column("at", String(40), nullable=False),
    Column("received_at", Float, nullable=False),
    Index("receipts_lot", "lot", unique=True),
    Index("receipts_supplier_lot", "supplier_id", "supplier_lot"),
    # A supplier's lot code typed without its supplier (migration 0008).
    Index("receipts_by_supplier_lot", "supplier_lot"),
    Index("receipts_source_lot", "source_lot"),
    Index("receipts_dev_seq", "dev_id", "seq"),
)

input_uses = Table(
    "input_uses",
    metadata,
    # One row per input.added: part of a receipt used in a batch.
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("receipt_id", String(36), nullable=False),
    Column("receipt_lot", String(20), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("override", Boolean, nullable=False),
    Column("at", String(40), nullable=False),
    PrimaryKeyConstraint("dev_id", "seq"),
    Index("input_uses_receipt", "receipt_id"),
    Index("input_uses_batch", "dev_id", "batch_id"),
)

shipments = Table(
    "shipments",
    metadata,
    # One row per lot.shipped: part of a finished lot sent to a customer.
    Column("shipment_id", String(36), primary_key=True),
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("facility_code", String(16), nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("customer_id", String(16), nullable=False),
    Column("customer", JSON, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("serial_first", Integer),
    Column("serial_last", Integer),
    Column("shipped_on", String(10), nullable=False),
    Column("note", Text, nullable=False),
    Column("override", Boolean, nullable=False),
    Column("at", String(40), nullable=False),
    Index("shipments_lot", "lot"),
    Index("shipments_customer", "customer_id"),
    Index("shipments_dev_seq", "dev_id", "seq"),
)

corrections = Table(
    "corrections",
    metadata,
    # One row per record.corrected; the projection it names has been updated in place.
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("corrects_seq", Integer, nullable=False),
    Column("corrects_id", String(36), nullable=False),
    Column("corrects_type", String(40), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
    PrimaryKeyConstraint("dev_id", "seq"),
    Index("corrections_target", "dev_id", "corrects_seq"),
)

recalls = Table(
    "recalls",
    metadata,
    # An office recall of a lot: an output lot, a receiving lot, or a supplier's lot code
    # (``supplier_id`` set). Every lot derived from it is recalled too (forward closure).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lot", String(40), nullable=False),
    Column("supplier_id", String(16)),
    Column("reason", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("lifted_at", Float),
    Column("lifted_by", String(64)),
    Column("lift_reason", Text),
    Index("recalls_lot", "lot"),
)

recall_lots = Table(
    "recall_lots",
    metadata,
    # The forward closure of a recall when it was made (and grown as new uses arrive): every
    # output and receiving lot it covers, for the office's lists and the shipments to call back.
    Column("recall_id", Integer, nullable=False),
    Column("lot", String(20), nullable=False),
    Column("kind", String(10), nullable=False),  # "output" or "receipt"
    PrimaryKeyConstraint("recall_id", "lot"),
    Index("recall_lots_lot", "lot"),
)

projection_versions = Table(
    "projection_versions",
    metadata,
    # What each replayable projection's code was when it last rebuilt its tables from
    # ``events`` (sync_server/ingest/replay.py): a server whose code is newer replays once.
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
)
