"""Build valid signed runs of events for the protocol, server and edge tests."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from trace_protocol.envelope import Event, build_event
from trace_protocol.signing import DeviceKey

ICT = timezone(timedelta(hours=7))
AT = datetime(2024, 3, 1, 8, 0, tzinfo=ICT)


class ChainBuilder:
    """Appends correctly chained, signed events for one device, like an edge journal would."""

    def __init__(self, key: DeviceKey, dev: str) -> None:
        self.key = key
        self.dev = dev
        self.events: list[Event] = []

    @property
    def head_hash(self) -> str | None:
        return self.events[-1].hash if self.events else None

    def next(
        self,
        type: str = "note.recorded",
        body: dict[str, Any] | None = None,
        *,
        key: DeviceKey | None = None,
        prev: str | bool | None = True,
        dev: str | None = None,
    ) -> Event:
        """The event after the last one; ``prev=True`` links it properly."""
        seq = len(self.events) + 1
        event = build_event(
            key=key or self.key,
            dev=dev or self.dev,
            seq=seq,
            type=type,
            body=body if body is not None else {"n": seq},
            prev=self.head_hash if prev is True else prev,  # type: ignore[arg-type]
            at=AT + timedelta(minutes=seq),
            clock="synced",
        )
        self.events.append(event)
        return event

    def run(self, n: int) -> list[Event]:
        return [self.next() for _ in range(n)]


def resign(event: Event, key: DeviceKey) -> Event:
    """The same event (same hash) with a signature by ``key``."""
    return dataclasses.replace(event, sig=key.sign(bytes.fromhex(event.hash)))


def new_batch_id() -> str:
    return str(uuid.uuid4())
