"""The notification loop: every ``notify.interval_s``, queue new alerts, send the immediate
mails due and, once a day, the digests. Run by every ingest process (``ocop server run`` and
``ocop server ingest``); the outbox's claims keep each mail to one sender."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.notify import compose, outbox
from sync_server.notify.sender import Mailer, SendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    queued: int
    sent: int
    failed: int


def notify_round(
    engine: Engine, config: ServerConfig, mailer: Mailer, now: float | None = None
) -> RoundResult:
    """One round: queue, claim (in one locked transaction), send, record each result."""
    now = time.time() if now is None else now
    with engine.begin() as conn:
        outbox.lock(conn)
        queued = outbox.queue_new(conn, now)
        immediate = outbox.claim_immediate(conn, now, config.notify.throttle_minutes * 60)
        digests = outbox.claim_digests(conn, now, config.notify.digest_hour)
    sender, url = config.smtp.from_address, config.office_url
    mails: list[tuple[list[outbox.Owed], EmailMessage]] = [
        (m, compose.alert_mail(m, sender, url)) for m in immediate if m
    ]
    mails += [(m, compose.digest_mail(m, sender, url, now)) for m in digests if m]
    sent = failed = 0
    for rows, msg in mails:
        try:
            if not rows[0].email:
                # Counted and retried like any failure: sent once an admin gives an address.
                raise SendError("no e-mail address (or the account is disabled)")
            mailer.send(msg)
        except SendError as exc:
            failed += 1
            log.warning("notification mail to %s not sent: %s", rows[0].username, exc)
            with engine.begin() as conn:
                outbox.mark_failed(conn, rows, now, str(exc))
            continue
        sent += 1
        with engine.begin() as conn:
            outbox.mark_sent(conn, rows, now)
    return RoundResult(queued, sent, failed)


def _run(engine: Engine, config: ServerConfig, stop: threading.Event) -> None:
    mailer = Mailer(config.smtp, config.smtp_password())
    try:
        while not stop.wait(config.notify.interval_s):
            try:
                notify_round(engine, config, mailer)
            except Exception:  # the database may be briefly away: try next round
                log.exception("notification round failed")
            finally:
                mailer.close()  # one connection per round, not one held open between rounds
    finally:
        mailer.close()


def start_notify_loop(
    engine: Engine, config: ServerConfig, stop: threading.Event
) -> threading.Thread | None:
    """Start the ``notify`` thread; None when no SMTP server is configured (mail is off)."""
    if not config.smtp.enabled:
        return None
    thread = threading.Thread(target=_run, args=(engine, config, stop), name="notify", daemon=True)
    thread.start()
    return thread
