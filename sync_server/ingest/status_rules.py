"""What a device's verified status means: the alerts to raise and the commands to send it.

Pure: the ingest worker (:mod:`sync_server.ingest.worker`) parses and verifies the status, reads the
device's row, calls :func:`judge_status` and applies what it returns (database writes, then
publishes after the commit). Only a status the device's key signed reaches these rules (issue
12, finding 7).
"""

from __future__ import annotations

from dataclasses import dataclass

from trace_protocol.messages import RESEND, Command
from trace_protocol.status import Status

JOURNAL_BEHIND = "journal_behind"
CAMERA = "camera"
DISK_LOW = "disk_low"
SERVER_BEHIND = "server_behind"


@dataclass(frozen=True)
class AlertRaised:
    """An alert for the status's device; ``raise_alert`` keeps one open per device and kind."""

    kind: str
    detail: str


@dataclass(frozen=True)
class StatusVerdict:
    """What to do about one verified status."""

    last_heard: float | None  # None: leave the device's ``last_heard`` as it is
    alerts: tuple[AlertRaised, ...]
    commands: tuple[Command, ...]


def judge_status(status: Status, *, server_head: int, retained: bool, now: float) -> StatusVerdict:
    """The rules for a verified ``status`` of a device whose committed head is ``server_head``,
    received at ``now`` (``retained``: replayed by the broker when the worker subscribed)."""
    alerts: list[AlertRaised] = []
    commands: list[Command] = []
    if status.head < server_head:
        # The server holds events this device no longer has: restored from an old copy?
        alerts.append(
            AlertRaised(
                JOURNAL_BEHIND, f"device journal ends at {status.head}, server holds {server_head}"
            )
        )
    broken = _broken_cameras(status)
    if broken:
        detail = ", ".join(f"{name}: {state}" for name, state in sorted(broken.items()))
        alerts.append(AlertRaised(CAMERA, detail))
    if status.extra.get("periodic_paused_disk_low"):
        alerts.append(AlertRaised(DISK_LOW, "periodic photos paused"))
    if status.acked > server_head:
        # The device holds acks for events we no longer have: this database was restored from a
        # backup. Ask for them again; they verify like any other events.
        alerts.append(
            AlertRaised(
                SERVER_BEHIND,
                f"device acked {status.acked}, server holds {server_head}: resend asked",
            )
        )
        commands.append(Command(RESEND, {"from": int(server_head) + 1}))
    # A retained copy replayed when the worker (re)subscribes is old news: it updates what we
    # know of the device but not when we last heard from it.
    return StatusVerdict(
        last_heard=None if retained else now, alerts=tuple(alerts), commands=tuple(commands)
    )


def _broken_cameras(status: Status) -> dict[str, object]:
    """Each camera whose state is not ``ok``, with that state."""
    cameras = status.extra.get("cameras")
    if not isinstance(cameras, dict):
        return {}
    return {
        name: c.get("state")
        for name, c in cameras.items()
        if isinstance(c, dict) and c.get("state") != "ok"
    }
