"""The ``clock`` field: "synced" only when the kernel, systemd-timesyncd or the operator says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.clock import (
    STA_UNSYNC,
    TIME_ERROR,
    Clock,
    KernelClock,
    decide_clock,
    read_kernel_clock,
)

TIME_OK = 0  # adjtimex's TIME_OK
DISCIPLINED = KernelClock(state=TIME_OK, status=0x2001, maxerror_us=12_000)  # PLL | NANO
AT_BOOT = KernelClock(state=TIME_ERROR, status=STA_UNSYNC, maxerror_us=16_000_000)


@pytest.mark.parametrize(
    ("assume", "flag", "kernel", "expected"),
    [
        (False, False, None, "unsynced"),  # nothing can be asked: never guess
        (False, False, AT_BOOT, "unsynced"),  # kernel as booted, no NTP client yet
        (False, False, DISCIPLINED, "synced"),  # chrony or ntpd: no timesyncd flag
        (False, True, None, "synced"),  # timesyncd's flag
        (False, True, AT_BOOT, "synced"),  # timesyncd stepped the clock, flag written
        (True, False, AT_BOOT, "synced"),  # the operator vouches for it
        # STA_UNSYNC clear but the call answers TIME_ERROR (e.g. STA_CLOCKERR): not trusted.
        (False, False, KernelClock(TIME_ERROR, 0, 1000), "unsynced"),
        # Any answer with STA_UNSYNC set is not trusted, whatever the state.
        (False, False, KernelClock(TIME_OK, STA_UNSYNC | 0x2000, 1000), "unsynced"),
    ],
)
def test_decision(assume: bool, flag: bool, kernel: KernelClock | None, expected: str) -> None:
    assert decide_clock(assume, flag, kernel) == expected


def test_clock_state_uses_its_injected_readings(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    clock = Clock(flag=flag, kernel=lambda: AT_BOOT)
    assert clock.state() == "unsynced"
    flag.touch()
    assert clock.state() == "synced"
    assert Clock(flag=tmp_path / "none", kernel=lambda: DISCIPLINED).state() == "synced"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_real_kernel_answers() -> None:
    """This machine's kernel, asked for real: whatever its clock, a well-formed answer."""
    kernel = read_kernel_clock()
    assert kernel is not None
    assert 0 <= kernel.state <= TIME_ERROR  # TIME_OK .. TIME_ERROR
    assert kernel.status >= 0 and kernel.maxerror_us >= 0
    assert kernel.synced == (not kernel.status & STA_UNSYNC and kernel.state != TIME_ERROR)
    assert Clock(flag=Path("/nonexistent")).state() == ("synced" if kernel.synced else "unsynced")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_every_event_asks_the_kernel_without_a_child_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libc is found once (find_library runs ldconfig in a child): each event's clock state
    and each status report used to fork the agent (issue 17)."""
    first = read_kernel_clock()

    def no_children(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a child process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_children)
    assert [read_kernel_clock() is None for _ in range(3)] == [first is None] * 3
    Clock(flag=Path("/nonexistent")).state()


def test_the_server_vouches_while_our_clock_agrees_and_has_not_jumped() -> None:
    from edge_agent.clock import SERVER_CHECK_VALID_S, SERVER_TOLERANCE_S, ServerTimeCheck

    check = ServerTimeCheck()
    assert not check.vouches(1_000.0, 50.0)  # never compared
    assert check.observe(server_time=1_000.0 - SERVER_TOLERANCE_S + 1, wall=1_000.0, monotonic=50.0)
    assert check.vouches(1_060.0, 110.0)  # a minute later, both clocks moved together
    assert not check.vouches(1_000.0 + 3_600.0 + 60.0, 110.0)  # someone set the clock an hour on
    assert not check.vouches(1_000.0 + SERVER_CHECK_VALID_S + 1, 50.0 + SERVER_CHECK_VALID_S + 1)
    # An hour off: no longer vouched for, and the offset is kept for the log.
    assert not check.observe(server_time=1_000.0, wall=4_600.0, monotonic=120.0)
    assert check.last_offset_s == 3_600.0
    assert not check.vouches(4_600.0, 120.0)


def test_the_server_check_is_one_more_source_in_the_decision(tmp_path: Path) -> None:
    assert decide_clock(False, False, AT_BOOT, server_agrees=True) == "synced"
    clock = Clock(flag=tmp_path / "none", kernel=lambda: AT_BOOT)
    assert clock.state() == "unsynced"
    import time

    clock.server.observe(time.time(), time.time(), time.monotonic())
    assert clock.state() == "synced"
