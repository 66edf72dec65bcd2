"""Honest liveness: states from what the server heard, and 'silent' alerts that resolve."""

from __future__ import annotations

from sqlalchemy import Engine, update

from sync_server.config import OfficeConfig
from sync_server.devices.liveness import facility_states, sweep_silent
from sync_server.store.alerts import open_alerts
from sync_server.store.db import devices

OFFICE = OfficeConfig(stale_after_s=60, offline_after_s=3600)
NOW = 1_800_000_000.0


def _set(engine: Engine, dev: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.dev_id == dev).values(**values))


def _state(engine: Engine) -> str:
    with engine.connect() as conn:
        (kc,) = [f for f in facility_states(conn, OFFICE, now=NOW) if f.code == "KC"]
    return kc.state


def test_states_follow_what_the_server_heard(engine: Engine, device: str) -> None:
    assert _state(engine) == "offline"  # never heard from
    _set(engine, device, last_heard=NOW - 5, status={"online": True, "backlog": 3})
    assert _state(engine) == "online"
    _set(engine, device, last_heard=NOW - 61)
    assert _state(engine) == "stale"
    # Heard a moment ago, but it was its goodbye (agent stopped / last will).
    _set(engine, device, last_heard=NOW - 1, status={"online": False})
    assert _state(engine) == "stale"
    _set(engine, device, last_heard=NOW - 3601)
    assert _state(engine) == "offline"
    _set(engine, device, last_heard=NOW - 1, status={"online": True}, blocked_code="fork")
    assert _state(engine) == "blocked"


def test_facility_shows_backlog_and_oldest_unsynced_from_status(
    engine: Engine, device: str
) -> None:
    _set(
        engine,
        device,
        last_heard=NOW - 5,
        status={"online": True, "backlog": 42, "oldest_unsynced_age_s": 7200.0},
    )
    with engine.connect() as conn:
        (kc,) = [f for f in facility_states(conn, OFFICE, now=NOW) if f.code == "KC"]
    assert (kc.backlog, kc.oldest_unsynced_age_s, kc.last_heard) == (42, 7200.0, NOW - 5)


def test_silent_alert_is_raised_once_and_resolves_when_heard_again(
    engine: Engine, device: str
) -> None:
    _set(engine, device, last_heard=NOW - 7200, status={"online": True})
    with engine.begin() as conn:
        assert sweep_silent(conn, OFFICE, now=NOW) == 1
        assert sweep_silent(conn, OFFICE, now=NOW + 60) == 0
        assert [a["kind"] for a in open_alerts(conn)] == ["silent"]
    _set(engine, device, last_heard=NOW + 100)
    with engine.begin() as conn:
        sweep_silent(conn, OFFICE, now=NOW + 101)
        assert open_alerts(conn) == []
