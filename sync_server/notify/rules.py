"""Which alerts are mailed to whom, and when (pure): subscriptions, scopes, throttle, digest.

The outbox (:mod:`sync_server.notify.outbox`) reads the rows and applies these rules; nothing
here touches the database or the clock, so the tests give every moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_server.vn_time import VN_TZ

PROVINCE = "province"
DISTRICT = "district"
FACILITY = "facility"
SCOPES = (PROVINCE, DISTRICT, FACILITY)
IMMEDIATE = "immediate"
DIGEST = "digest"
MODES = (IMMEDIATE, DIGEST)
# Retry a failed mail after 1, 2, 4 … minutes, at most an hour apart; never give up.
BACKOFF_FIRST_S = 60.0
BACKOFF_MAX_S = 3600.0


@dataclass(frozen=True)
class Subscription:
    username: str
    scope: str  # PROVINCE | DISTRICT | FACILITY
    value: str  # "" | a district | a facility code
    kinds: frozenset[str] | None  # None: every kind
    mode: str  # IMMEDIATE | DIGEST
    created_at: float


@dataclass(frozen=True)
class Recipient:
    """An office account that can receive mail: its address and what it may see."""

    username: str
    email: str
    districts: frozenset[str] | None  # None: the province


@dataclass(frozen=True)
class AlertFacts:
    """An alert as the rules need it: its facility's district looked up."""

    id: int
    kind: str
    facility_code: str | None
    district: str | None
    dev_id: str | None
    created_at: float


def _sees(recipient: Recipient, alert: AlertFacts) -> bool:
    """The recipient's district scope, as it is now: an alert of no facility only for the
    province (sync_server/accounts/scopes.py)."""
    if recipient.districts is None:
        return True
    return alert.facility_code is not None and alert.district in recipient.districts


def matches(sub: Subscription, alert: AlertFacts) -> bool:
    """Whether one subscription asks for this alert (its scope, kinds, and alerts raised since
    it was made: subscribing does not mail the past)."""
    if alert.created_at < sub.created_at:
        return False
    if sub.kinds is not None and alert.kind not in sub.kinds:
        return False
    if sub.scope == DISTRICT:
        return alert.district == sub.value
    if sub.scope == FACILITY:
        return alert.facility_code == sub.value
    return sub.scope == PROVINCE


def recipients(
    alert: AlertFacts, subs: Iterable[Subscription], people: dict[str, Recipient]
) -> dict[str, bool]:
    """username -> digest? for everyone owed this alert. One mail per person and alert: a
    person with both kinds of subscription matching gets it at once."""
    owed: dict[str, bool] = {}
    for sub in subs:
        person = people.get(sub.username)
        if person is None or not _sees(person, alert) or not matches(sub, alert):
            continue
        owed[sub.username] = owed.get(sub.username, True) and sub.mode == DIGEST
    return owed


def throttle_key(username: str, kind: str, dev_id: str | None, facility: str | None) -> str:
    """Alerts sharing this key share one mail per throttle window: one person, one kind, one
    device (or, for alerts of no device such as a forged code scanned, one facility)."""
    return "|".join((username, kind, dev_id or "", "" if dev_id else facility or ""))


@dataclass(frozen=True)
class Pending:
    """An outbox row not yet sent."""

    id: int
    key: str
    created_at: float
    not_before: float | None


def due_groups(
    pending: Sequence[Pending],
    last_sent: dict[str, float],
    now: float,
    window_s: float,
) -> list[list[Pending]]:
    """The immediate rows to mail now, one group (one mail) per throttle key: a key waits while
    a row of it is being sent or backing off, or until ``window_s`` after its last mail; then
    every row it gathered goes in one mail, oldest first."""
    by_key: dict[str, list[Pending]] = {}
    for row in pending:
        by_key.setdefault(row.key, []).append(row)
    due = []
    for key, rows in by_key.items():
        if any(r.not_before is not None and r.not_before > now for r in rows):
            continue
        sent = last_sent.get(key)
        if sent is not None and now < sent + window_s:
            continue
        due.append(sorted(rows, key=lambda r: (r.created_at, r.id)))
    return due


def digest_cutoff(now: float, hour: int) -> float:
    """The last daily digest moment at or before ``now`` (``hour`` o'clock, Vietnam time). A
    digest carries the rows queued before it; rows queued after wait for the next day's."""
    local = datetime.fromtimestamp(now, VN_TZ)
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if moment > local:
        moment -= timedelta(days=1)
    return moment.timestamp()


def backoff_s(attempts: int) -> float:
    """How long to wait before trying a mail again after its ``attempts``-th failure."""
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempts - 1)))
