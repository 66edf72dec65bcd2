"""The status rules on their own (issue 14, item 3): a verified status and the server's head in,
alerts and commands out, with no database and no broker. test_status_alerts.py checks that the
worker applies them, and only to signed statuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync_server.ingest.status_rules import (
    CAMERA,
    DISK_LOW,
    JOURNAL_BEHIND,
    SERVER_BEHIND,
    AlertRaised,
    StatusVerdict,
    judge_status,
)
from trace_protocol.messages import RESEND, Command
from trace_protocol.status import Status

NOW = 1_800_000_000.5


def _status(**fields: Any) -> Status:
    # The rules see only what parse_status and verify let through; a signature is not theirs
    # to check, so these statuses are unsigned.
    return Status(**{"dev": "kc-1", "online": True, "at": "2026-12-05T08:00:00+07:00", **fields})


def _judge(status: Status, server_head: int = 0, *, retained: bool = False) -> StatusVerdict:
    return judge_status(status, server_head=server_head, retained=retained, now=NOW)


def test_a_healthy_status_in_step_with_the_server_asks_for_nothing() -> None:
    status = _status(head=7, acked=7, extra={"cameras": {"kho": {"state": "ok"}}})
    assert _judge(status, 7) == StatusVerdict(last_heard=NOW, alerts=(), commands=())


def test_a_retained_status_does_not_count_as_heard_from() -> None:
    verdict = _judge(_status(head=3, acked=3), 3, retained=True)
    assert verdict == StatusVerdict(last_heard=None, alerts=(), commands=())


def test_a_device_journal_behind_the_server_raises_journal_behind_and_asks_nothing() -> None:
    verdict = _judge(_status(head=4, acked=4), 9)
    assert verdict.alerts == (
        AlertRaised(JOURNAL_BEHIND, "device journal ends at 4, server holds 9"),
    )
    assert verdict.commands == ()


def test_cameras_not_ok_raise_one_camera_alert_in_name_order() -> None:
    cameras = {
        "kho": {"state": "covered"},
        "day-chuyen": {"state": "no_signal", "detail": "unplugged"},
        "cong": {"state": "ok"},
    }
    verdict = _judge(_status(extra={"cameras": cameras}))
    assert verdict.alerts == (AlertRaised(CAMERA, "day-chuyen: no_signal, kho: covered"),)


def test_cameras_that_say_nothing_usable_raise_nothing() -> None:
    extras: list[dict[str, Any]] = [
        {},
        {"cameras": {}},
        {"cameras": "broken"},
        {"cameras": {"kho": "down"}},
    ]
    for extra in extras:
        assert _judge(_status(extra=extra)).alerts == ()


def test_paused_periodic_photos_raise_disk_low() -> None:
    verdict = _judge(_status(extra={"periodic_paused_disk_low": True}))
    assert verdict.alerts == (AlertRaised(DISK_LOW, "periodic photos paused"),)
    assert _judge(_status(extra={"periodic_paused_disk_low": False})).alerts == ()


def test_acks_beyond_the_server_head_raise_server_behind_and_ask_for_a_resend() -> None:
    verdict = _judge(_status(head=12, acked=10), 6)
    assert verdict.alerts == (
        AlertRaised(SERVER_BEHIND, "device acked 10, server holds 6: resend asked"),
    )
    assert verdict.commands == (Command(RESEND, {"from": 7}),)
    assert json.loads(verdict.commands[0].encode()) == {"v": 1, "cmd": "resend", "from": 7}


def test_every_rule_at_once_in_a_fixed_order() -> None:
    extra = {"cameras": {"kho": {"state": "covered"}}, "periodic_paused_disk_low": True}
    kinds = [a.kind for a in _judge(_status(head=2, acked=2, extra=extra), 1).alerts]
    assert kinds == [CAMERA, DISK_LOW, SERVER_BEHIND]
    kinds = [a.kind for a in _judge(_status(head=1, acked=1, extra=extra), 2).alerts]
    assert kinds == [JOURNAL_BEHIND, CAMERA, DISK_LOW]


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.booleans())
def test_a_resend_is_asked_exactly_when_the_device_acked_more_than_the_server_holds(
    head: int, acked_below: int, server_head: int, retained: bool
) -> None:
    acked = min(acked_below, head)  # parse_status guarantees acked <= head
    verdict = _judge(_status(head=head, acked=acked), server_head, retained=retained)
    kinds = {a.kind for a in verdict.alerts}
    assert (SERVER_BEHIND in kinds) == (acked > server_head)
    assert (JOURNAL_BEHIND in kinds) == (head < server_head)
    expected = (Command(RESEND, {"from": server_head + 1}),) if acked > server_head else ()
    assert verdict.commands == expected
    assert verdict.last_heard == (None if retained else NOW)
