"""Workers at the touchscreens: one thread per agent POSTs steps through the real HTTP forms.

Every step carries a unique note (``<dev>/<n>``), so the checker can follow each confirmed save
("Đã lưu": HTTP 303) to the journal and to the server, like a Jepsen total-queue check. A POST
that fails (the agent is being killed, its clock jumped and waitress dropped the connection …)
is retried with a new note: the failed one may or may not have been written, so it is
"indeterminate", never required. Every loop is bounded in count and in time.

Between the steps, each batch gets supply actions (issue 15, tests/faults/supply_load.py):
receipts, uses, a correction, and at its end a close and a shipment. A confirmed receipt is
required on the server like a confirmed step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.faults import supply_load
from tests.faults.supply_load import SupplyState
from tests.integration.touchscreen import Touchscreen

STEP = "XAT"  # "Xay xát, đánh bóng": a step with no measured fields
PRODUCT = "NM"
STEPS_PER_BATCH = 200
RETRY_PAUSE_S = 0.2


@dataclass
class Pacer:
    """Shared budget of confirmed saves: stops at ``target``, spreads them at ``rate`` per s."""

    target: int
    rate: float
    deadline: float
    confirmed: int = 0
    _issued: int = 0
    _start: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def acquire(self) -> bool:
        """Wait for the next slot; False once the target is reached, time is up or stopped."""
        with self._lock:
            if self.confirmed >= self.target:
                return False
            due = self._start + self._issued / self.rate if self.rate > 0 else 0.0
            self._issued += 1
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= self.deadline:
                return False
            if now >= due:
                return True
            self.stop.wait(min(0.2, due - now))
        return False

    def confirm(self) -> None:
        with self._lock:
            self.confirmed += 1

    def done(self) -> bool:
        return self.stop.is_set() or self.confirmed >= self.target


@dataclass
class AgentLoad:
    """What one load thread did to one agent."""

    dev: str
    url: Callable[[], str]
    confirmed_notes: set[str] = field(default_factory=set)
    confirmed_batches: set[str] = field(default_factory=set)
    failures: int = 0
    attempts: int = 0
    supply: SupplyState = field(default_factory=SupplyState)


def _new_batch(touch: Touchscreen) -> str | None:
    r = touch.post("/batches", {"product": PRODUCT})
    if r.status_code != 303:
        return None
    return r.headers["Location"].rstrip("/").rsplit("/", 1)[1].split("?", 1)[0]


def run_load(load: AgentLoad, pacer: Pacer, max_attempts: int) -> None:
    """The loop of one thread; returns when the pacer says so or ``max_attempts`` is used up."""
    # A browser on the touchscreen: its session and CSRF token, refreshed after a broken link.
    touch = Touchscreen(load.url)
    batch: str | None = None
    in_batch = 0
    n = 0
    acted = -1  # the step after which this batch's supply action was last tried
    while load.attempts < max_attempts and pacer.acquire():
        load.attempts += 1
        try:
            if (
                batch is not None
                and acted != in_batch
                and (in_batch in supply_load.ACTIONS or in_batch >= STEPS_PER_BATCH)
            ):
                acted = in_batch
                if in_batch >= STEPS_PER_BATCH:
                    done = supply_load.close_and_ship(touch, batch)
                    if done is not None and done.status_code == 303:
                        load.supply.done("ship")
                else:
                    done = supply_load.act(touch, load.supply, batch, in_batch, n)
                if done is not None and done.status_code == 303:
                    pacer.confirm()
                elif done is not None:
                    load.failures += 1
                continue
            if batch is None or in_batch >= STEPS_PER_BATCH:
                batch = _new_batch(touch)
                if batch is None:
                    load.failures += 1
                    time.sleep(RETRY_PAUSE_S)
                    continue
                acted = -1
                load.confirmed_batches.add(batch)
                pacer.confirm()
                in_batch = 0
                continue
            n += 1
            note = f"{load.dev}/{n}"
            r = touch.post(f"/batches/{batch}/steps", {"step": STEP, "note": note})
        except requests.RequestException:
            load.failures += 1
            touch.reset()
            pacer.stop.wait(RETRY_PAUSE_S)
            continue
        if r.status_code == 303:
            load.confirmed_notes.add(note)
            pacer.confirm()
            in_batch += 1
        else:
            load.failures += 1
            pacer.stop.wait(RETRY_PAUSE_S)
    touch.close()


def start_load(loads: list[AgentLoad], pacer: Pacer, max_attempts: int) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=run_load, args=(ld, pacer, max_attempts), name=f"load-{ld.dev}", daemon=True
        )
        for ld in loads
    ]
    for t in threads:
        t.start()
    return threads
