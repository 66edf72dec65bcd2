"""Wall-clock time and whether it can be trusted (a Pi has no battery clock).

An event's ``clock`` is "synced" only when something on the device says the time was set from
a time source since boot (docs/protocol.md): the kernel, whose ``STA_UNSYNC`` status bit any
NTP client (chrony, ntpd, systemd-timesyncd) clears when it disciplines the clock and the
kernel sets again once its error estimate passes 16 s; or systemd-timesyncd's flag file; or
the operator's ``assume_clock_synced``; or the server, whose acks carry its own clock: when
ours agreed with it within ``SERVER_TOLERANCE_S`` and has not been set or jumped since (wall time
and monotonic time still advance together), and for at most ``SERVER_CHECK_VALID_S``. A clock
that nothing vouches for stays "unsynced".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# systemd-timesyncd touches this file once the clock has been synchronised since boot.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")

# An ack may take a few seconds to arrive; a clock this close to the server's is right for
# traceability (minutes matter, not milliseconds).
SERVER_TOLERANCE_S = 10.0
# A Pi's oscillator drifts by seconds a day: ask again (every ack does) within a day.
SERVER_CHECK_VALID_S = 24 * 3600.0
# Wall time that moved this much against monotonic time since the check was set by someone.
_JUMP_S = 2.0

# <linux/timex.h>
STA_UNSYNC = 0x0040
TIME_ERROR = 5


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """glibc's ``struct timex`` (long-sized fields: the same on 32- and 64-bit Pi OS)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelClock:
    """What ``adjtimex(2)`` says: its return state, the status bits and the error bound."""

    state: int
    status: int
    maxerror_us: int

    @property
    def synced(self) -> bool:
        return not self.status & STA_UNSYNC and self.state != TIME_ERROR


@functools.cache
def _adjtimex() -> Any | None:
    """libc's ``adjtimex``, looked up once: ``find_library`` runs ``ldconfig -p`` in a child
    process, which every event and status report paid for (issue 17: a fork of the whole
    agent and ~44 kB through a pipe each time, most of the agent's idle ``wchar``)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        adjtimex = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    adjtimex.argtypes = [ctypes.POINTER(_Timex)]
    adjtimex.restype = ctypes.c_int
    return adjtimex


def read_kernel_clock() -> KernelClock | None:
    """Ask the kernel, read-only (``modes = 0`` needs no privilege); None where it cannot be
    asked (not Linux, no libc, or a sandbox that refuses the call)."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return None
    tx = _Timex()
    state = adjtimex(ctypes.byref(tx))
    if state < 0:
        log.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    return KernelClock(state=state, status=tx.status, maxerror_us=tx.maxerror)


class ServerTimeCheck:
    """The last moment the server's clock (from an ack) agreed with ours, and whether that
    still vouches for our clock now. Thread-safe: the sync thread observes, writers ask."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agreed: tuple[float, float] | None = None  # (wall, monotonic) at the agreement
        self.last_offset_s: float | None = None  # ours minus the server's, last observed

    def observe(self, server_time: float, wall: float, monotonic: float) -> bool:
        """Compare ``wall`` with the server's time; True when they agree."""
        offset = wall - server_time
        with self._lock:
            self.last_offset_s = offset
            if abs(offset) <= SERVER_TOLERANCE_S:
                self._agreed = (wall, monotonic)
                return True
            self._agreed = None
            return False

    def vouches(self, wall: float, monotonic: float) -> bool:
        with self._lock:
            agreed = self._agreed
        if agreed is None:
            return False
        elapsed = monotonic - agreed[1]
        if not 0 <= elapsed <= SERVER_CHECK_VALID_S:
            return False
        return abs((wall - agreed[0]) - elapsed) <= _JUMP_S


def ask_server_time(check: ServerTimeCheck, base_url: str | None, timeout_s: float = 5.0) -> bool:
    """Compare our clock with the HTTP ``Date`` of the server's ``/healthz`` (1 s resolution,
    well inside the tolerance); True when they agree. For code that writes events before the
    agent has had an ack (the demo's seeding); False, quietly, when the server is away."""
    import requests  # the agent imports it anyway; kept out of the clock's import cost

    if not base_url:
        return False
    sent = time.time()
    try:
        resp = requests.get(f"{base_url.rstrip('/')}/healthz", timeout=timeout_s)
        date = resp.headers.get("Date")
        server_time = parsedate_to_datetime(date).timestamp() if date else None
    except (requests.RequestException, TypeError, ValueError):
        return False
    if server_time is None:
        return False
    # The server stamped its Date somewhere between our request and its answer.
    received = time.time()
    return check.observe(server_time + 0.5, (sent + received) / 2, time.monotonic())


def decide_clock(
    assume_synced: bool,
    timesyncd_flag: bool,
    kernel: KernelClock | None,
    server_agrees: bool = False,
) -> str:
    """The ``clock`` field of an event: "synced" only when something says so."""
    if assume_synced or timesyncd_flag or (kernel is not None and kernel.synced) or server_agrees:
        return "synced"
    return "unsynced"


@dataclass(frozen=True)
class Clock:
    """Reads the local time with its UTC offset and says whether a time source has set it."""

    assume_synced: bool = False
    flag: Path = TIMESYNC_FLAG
    kernel: Callable[[], KernelClock | None] = field(default=read_kernel_clock)
    server: ServerTimeCheck = field(default_factory=ServerTimeCheck)

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def state(self) -> str:
        server_agrees = self.server.vouches(time.time(), time.monotonic())
        return decide_clock(self.assume_synced, self.flag.exists(), self.kernel(), server_agrees)
