"""A simulator process: several hundred devices' MQTT clients on one asyncio loop.

``python -m tests.load.simulator --plan P --shard I --shards N --out R`` connects its share of
the plan's devices, prints ``{"ready": n}``, waits for ``go <unix time>`` on stdin, runs the
phases (Poisson event arrivals and evenly spread status messages per device), then drains:
no new events, until every device's events are acknowledged or ``drain_s`` has passed. It
prints one JSON line of totals a second and writes the final result (hashes, histograms,
counters) to R. It exits when stdin closes, so it never outlives the runner.

Each paho client's network loop is driven by the event loop (``loop_read`` / ``loop_write`` on
socket readiness, ``loop_misc`` once a second), as in paho's own asyncio example: one thread,
no per-client threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import random
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.load.device import Metrics, SimDevice
from tests.load.plan import LoadPlan, device_ids, shards

TICK_S = 0.02
CONNECTS_PER_TICK = 25


class Mux:
    """Registers paho sockets with the asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def attach(self, client: mqtt.Client) -> None:
        client.on_socket_open = self._open
        client.on_socket_close = self._close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._done_write

    def _open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.add_reader(sock, client.loop_read)

    def _close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def _want_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.add_writer(sock, client.loop_write)

    def _done_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.loop.remove_writer(sock)


class Simulator:
    def __init__(self, plan: LoadPlan, devs: list[str], seed: int) -> None:
        self.plan = plan
        self.metrics = Metrics()
        rng = random.Random(seed)
        self.rng = rng
        self.devices = [SimDevice(d, plan, self.metrics, rng) for d in devs]
        self.phase_heads: dict[str, int] = {}
        self.loop_lag_max = 0.0
        self.t0 = 0.0

    # -- connecting ------------------------------------------------------------------------------
    async def connect_all(self, mux: Mux) -> int:
        """Connect every client, a few per tick; returns how many got their CONNACK in time."""
        for i, d in enumerate(self.devices):
            mux.attach(d.client)
            try:
                d.client.connect(self.plan.host, self.plan.port, keepalive=self.plan.keepalive_s)
            except OSError:
                self.metrics.counters.refused += 1
            if i % CONNECTS_PER_TICK == CONNECTS_PER_TICK - 1:
                await asyncio.sleep(TICK_S)
        deadline = time.monotonic() + self.plan.connect_s
        while time.monotonic() < deadline and not all(d.connected for d in self.devices):
            await asyncio.sleep(0.1)
        return sum(d.connected for d in self.devices)

    async def misc_loop(self) -> None:
        """Keepalive pings and reconnects, once a second per client (bounded by the run)."""
        while True:
            for d in self.devices:
                if d.client.loop_misc() == mqtt.MQTT_ERR_NO_CONN and not d.connected:
                    with contextlib.suppress(OSError):
                        d.client.reconnect()
            await asyncio.sleep(1.0)

    # -- load ------------------------------------------------------------------------------------
    def _schedule(self, now: float, multiplier: float) -> list[tuple[float, int, int]]:
        """(due time, 0 = event | 1 = status, device index): first arrivals of a phase."""
        heap: list[tuple[float, int, int]] = []
        ev_rate = self.plan.events_per_s * multiplier
        st_every = self.plan.status_interval_s / multiplier
        for i in range(len(self.devices)):
            heap.append((now + self.rng.expovariate(ev_rate), 0, i))
            heap.append((now + self.rng.uniform(0, st_every), 1, i))
        heapq.heapify(heap)
        return heap

    async def run_phases(self) -> None:
        plan = self.plan
        heap: list[tuple[float, int, int]] = []
        phase_name = ""
        next_stall_check = 0.0
        while True:
            wall = time.time()
            phase = plan.phase_at(wall - self.t0)
            now = time.monotonic()
            if phase is None:
                self.phase_heads[phase_name] = sum(d.journal.head for d in self.devices)
                return
            if phase.name != phase_name:
                if phase_name:
                    self.phase_heads[phase_name] = sum(d.journal.head for d in self.devices)
                phase_name = self.metrics.phase = phase.name
                heap = self._schedule(now, phase.multiplier)
                ev_rate = plan.events_per_s * phase.multiplier
                st_every = plan.status_interval_s / phase.multiplier
            while heap and heap[0][0] <= now:
                due, kind, i = heapq.heappop(heap)
                self.loop_lag_max = max(self.loop_lag_max, now - due)
                d = self.devices[i]
                if kind == 0:
                    d.record(now)
                    heapq.heappush(heap, (due + self.rng.expovariate(ev_rate), 0, i))
                else:
                    d.publish_status()
                    heapq.heappush(heap, (due + st_every, 1, i))
            if now >= next_stall_check:
                next_stall_check = now + 0.5
                for d in self.devices:
                    d.check_stall(now)
            await asyncio.sleep(TICK_S)

    async def drain(self) -> None:
        """No new events; statuses at the nominal interval; resends until all are acked."""
        self.metrics.phase = "drain"
        deadline = time.monotonic() + self.plan.drain_s
        heap = self._schedule(time.monotonic(), 1.0)
        heap = [h for h in heap if h[1] == 1]
        heapq.heapify(heap)
        while time.monotonic() < deadline and not all(d.done for d in self.devices):
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                due, _, i = heapq.heappop(heap)
                self.devices[i].publish_status()
                heapq.heappush(heap, (due + self.plan.status_interval_s, 1, i))
            for d in self.devices:
                d.check_stall(now)
            await asyncio.sleep(0.2)

    # -- reporting -------------------------------------------------------------------------------
    def totals(self) -> dict[str, Any]:
        c = self.metrics.counters
        return {
            "t": round(time.time(), 3),
            "phase": self.metrics.phase,
            "generated": sum(d.journal.head for d in self.devices),
            "acked": sum(d.journal.acked for d in self.devices),
            "connected": sum(d.connected for d in self.devices),
            "done": sum(d.done for d in self.devices),
            "loop_lag_max_s": round(self.loop_lag_max, 3),
            **{k: v for k, v in asdict(c).items() if k != "blocked"},
            "blocked": len(c.blocked),
        }

    async def report_loop(self) -> None:
        while True:
            print(json.dumps(self.totals()), flush=True)
            await asyncio.sleep(1.0)

    def result(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "totals": self.totals(),
            "blocked": m.counters.blocked[:50],
            "phase_generated": self.phase_heads,
            "hashes": {d.dev: d.journal.hashes for d in self.devices},
            "acked": {d.dev: d.journal.acked for d in self.devices},
            "ack_latency": {k: h.to_json() for k, h in m.ack_latency.items()},
            "event_lag": {k: h.to_json() for k, h in m.event_lag.items()},
        }


def _watch_stdin(loop: asyncio.AbstractEventLoop, go: asyncio.Future[float]) -> None:
    """``go <t0>`` starts the load; end of input (the runner is gone) stops this process."""
    for line in sys.stdin:
        if line.startswith("go "):
            loop.call_soon_threadsafe(go.set_result, float(line.split()[1]))
    loop.call_soon_threadsafe(loop.stop)


async def main_async(sim: Simulator, out: Path) -> None:
    loop = asyncio.get_running_loop()
    go: asyncio.Future[float] = loop.create_future()
    threading.Thread(target=_watch_stdin, args=(loop, go), daemon=True).start()
    mux = Mux(loop)
    misc = asyncio.create_task(sim.misc_loop())
    ready = await sim.connect_all(mux)
    print(json.dumps({"ready": ready}), flush=True)
    sim.t0 = await go
    await asyncio.sleep(max(0.0, sim.t0 - time.time()))
    reporter = asyncio.create_task(sim.report_loop())
    await sim.run_phases()
    await sim.drain()
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(sim.result()), encoding="utf-8")
    tmp.replace(out)
    print(json.dumps(sim.totals()), flush=True)
    print(json.dumps({"finished": True}), flush=True)
    reporter.cancel()
    misc.cancel()
    for d in sim.devices:
        d.client.disconnect()
    await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.load.simulator")
    p.add_argument("--plan", type=Path, required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--shards", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    plan = LoadPlan.load(args.plan)
    devs = shards(device_ids(plan.tag, plan.devices), args.shards)[args.shard]
    sim = Simulator(plan, devs, seed=args.shard)
    asyncio.run(main_async(sim, args.out))


if __name__ == "__main__":
    main()
