"""Failure throttles with exponential backoff, kept in the database so every web worker shares them.

A *rule* allows ``free`` failures of one key (e.g. a username on one client network); each failure
after that makes the key wait ``base_s``, then twice as long, up to ``max_s``, counted from its
last failure. A key quiet for ``forget_s`` starts over. Only the key that fails waits: a real user
on another network is never locked out by an attacker's guesses (issue 12, finding 9).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync_server.store.db import reading, throttles


@dataclass(frozen=True)
class Backoff:
    scope: str
    free: int
    base_s: float
    max_s: float
    forget_s: float

    def delay(self, failures: int) -> float:
        """How long a key with ``failures`` must wait after its last one."""
        if failures < self.free:
            return 0.0
        return float(min(self.max_s, self.base_s * 2 ** min(failures - self.free, 40)))


# Office login: per (username, client network), and per network over all names (a guesser who
# tries many names). Enrolment: failed requests per client network.
LOGIN = Backoff("login", free=5, base_s=1.0, max_s=900.0, forget_s=86400.0)
LOGIN_NETWORK = Backoff("login-net", free=20, base_s=1.0, max_s=900.0, forget_s=86400.0)
ENROL = Backoff("enrol", free=10, base_s=2.0, max_s=3600.0, forget_s=3600.0)


def _where(rule: Backoff, key: str) -> ColumnElement[bool]:
    return and_(throttles.c.scope == rule.scope, throttles.c.key == key[:100])


def wait_s(engine: Engine, rule: Backoff, key: str, now: float | None = None) -> float:
    """Seconds until ``key`` may try again; 0 when it may now."""
    now = time.time() if now is None else now
    with reading(engine) as conn:
        row = conn.execute(
            select(throttles.c.failures, throttles.c.last_at).where(_where(rule, key))
        ).first()
    if row is None or now - row.last_at >= rule.forget_s:
        return 0.0
    return max(0.0, float(row.last_at) + rule.delay(int(row.failures)) - now)


def record_failure(engine: Engine, rule: Backoff, key: str, now: float | None = None) -> None:
    """Count one failure of ``key``; also forgets this scope's keys quiet past ``forget_s``."""
    now = time.time() if now is None else now
    for _ in range(2):  # a concurrent first failure of the same key may win the insert
        try:
            with engine.begin() as conn:
                conn.execute(
                    delete(throttles).where(
                        throttles.c.scope == rule.scope, throttles.c.last_at < now - rule.forget_s
                    )
                )
                done = conn.execute(
                    update(throttles)
                    .where(_where(rule, key))
                    .values(failures=throttles.c.failures + 1, last_at=now)
                )
                if done.rowcount == 0:
                    conn.execute(
                        insert(throttles).values(
                            scope=rule.scope, key=key[:100], failures=1, last_at=now
                        )
                    )
            return
        except IntegrityError:
            continue


def clear(engine: Engine, rule: Backoff, key: str) -> None:
    """Forget ``key``'s failures (after a success)."""
    with engine.begin() as conn:
        conn.execute(delete(throttles).where(_where(rule, key)))
