"""Tables of the office's own actions (issue 16): the audit log, decisions on blocked devices,
commands sent to devices, and officers' e-mail subscriptions with the mails owed and sent.

The columns issue 16 adds to existing tables (users' districts and e-mail, facilities' phone and
disabling, devices' display name and the chain they continue) are defined in db.py beside the
rest of those tables; migration r0009 adds all of them.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

from sync_server.store.meta import metadata

audit_log = Table(
    "audit_log",
    metadata,
    # One row per office action: who, when, what, on what, with the values before and after.
    # Written in the transaction of the action itself (sync_server/accounts/audit.py).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    # The office account, "cli:<unix user>" for a command on the server, or the name typed at
    # a failed login.
    Column("username", String(64), nullable=False),
    Column("action", String(40), nullable=False),  # e.g. "login", "facility.edit"
    Column("target", String(120), nullable=False),  # a facility code, device id, lot, user …
    # The facility the action concerns, when it concerns one: district scopes filter on it.
    Column("facility_code", String(16)),
    Column("before", JSON),
    Column("after", JSON),
    Column("detail", Text, nullable=False),
    Index("audit_log_at", "at"),
    Index("audit_log_target", "target"),
)

device_decisions = Table(
    "device_decisions",
    metadata,
    # What the office decided about a blocked device (docs/protocol.md, "Unblocking"): the
    # cause it saw, the decision, who, when, why; a re-enrolment names the device that continues.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("username", String(64), nullable=False),
    Column("cause", String(32), nullable=False),  # the blocked_code seen
    Column("blocked_seq", Integer),
    Column("decision", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("new_dev_id", String(64)),
    Index("device_decisions_dev", "dev_id"),
)

device_commands = Table(
    "device_commands",
    metadata,
    # A command the office sent on a device's ``cmd`` topic ("take a photo now", "resend from
    # seq"): who, when, and what came of it.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("done_at", Float),
    Column("result", JSON),
    Index("device_commands_dev", "dev_id", "created_at"),
)

notify_subscriptions = Table(
    "notify_subscriptions",
    metadata,
    # An officer's e-mail subscription: alerts of some kinds (null: every kind) in the province,
    # one district or one facility, mailed at once or in a daily digest.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("scope", String(10), nullable=False),  # "province" | "district" | "facility"
    Column("value", Text, nullable=False),  # "" | a district name | a facility code
    Column("kinds", JSON),
    Column("mode", String(10), nullable=False),  # "immediate" | "digest"
    Column("created_at", Float, nullable=False),
    Index("notify_subscriptions_user", "username"),
)

notify_outbox = Table(
    "notify_outbox",
    metadata,
    # One row per alert owed to an officer by mail; ``sent_at`` once a mail carried it (at once,
    # or in that day's digest). ``suppressed`` when the throttle folded it into an earlier mail.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("alert_id", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("facility_code", String(16)),
    Column("dev_id", String(64)),
    Column("digest", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("suppressed", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    # No sender takes the row before this moment: a sender's claim while it sends (a lease, so
    # only one of several ingest processes mails it) or the backoff after a failed send.
    Column("not_before", Float),
    Index("notify_outbox_user_alert", "username", "alert_id", unique=True),
    Index("notify_outbox_pending", "sent_at", "digest"),
)
