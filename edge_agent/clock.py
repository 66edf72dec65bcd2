"""Wall-clock time and whether it can be trusted (a Pi has no battery clock).

An event's ``clock`` is "synced" only when something on the device says the time was set from
a time source since boot (docs/protocol.md): the kernel, whose ``STA_UNSYNC`` status bit any
NTP client (chrony, ntpd, systemd-timesyncd) clears when it disciplines the clock and the
kernel sets again once its error estimate passes 16 s; or systemd-timesyncd's flag file; or
the operator's ``assume_clock_synced``. A clock that nothing vouches for stays "unsynced".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

# systemd-timesyncd touches this file once the clock has been synchronised since boot.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")

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


def read_kernel_clock() -> KernelClock | None:
    """Ask the kernel, read-only (``modes = 0`` needs no privilege); None where it cannot be
    asked (not Linux, no libc, or a sandbox that refuses the call)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    adjtimex.argtypes = [ctypes.POINTER(_Timex)]
    adjtimex.restype = ctypes.c_int
    tx = _Timex()
    state = adjtimex(ctypes.byref(tx))
    if state < 0:
        log.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    return KernelClock(state=state, status=tx.status, maxerror_us=tx.maxerror)


def decide_clock(assume_synced: bool, timesyncd_flag: bool, kernel: KernelClock | None) -> str:
    """The ``clock`` field of an event: "synced" only when something says so."""
    if assume_synced or timesyncd_flag or (kernel is not None and kernel.synced):
        return "synced"
    return "unsynced"


@dataclass(frozen=True)
class Clock:
    """Reads the local time with its UTC offset and says whether a time source has set it."""

    assume_synced: bool = False
    flag: Path = TIMESYNC_FLAG
    kernel: Callable[[], KernelClock | None] = field(default=read_kernel_clock)

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def state(self) -> str:
        return decide_clock(self.assume_synced, self.flag.exists(), self.kernel())
