"""The processes under test: one Mosquitto, N ingest workers, M edge agents behind cut proxies.

Every process is a real subprocess started the way an operator would (``ocop server … ingest``,
``ocop edge … run``), with its output in ``<workdir>/<name>/log``. Agents run under libfaketime
with a per-agent offset file, so a clock jump is one write to that file.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import BrokerError, Mosquitto, free_port
from tests.faults.proxy import CutProxy
from tests.integration.harness import (
    KC_CATALOG,
    REPO,
    EdgeEnv,
    ServerEnv,
    enrol,
    make_edge,
    make_server,
)
from trace_protocol.catalog import parse_catalog

EDGE_MQTT = {
    "keepalive_s": 2,
    "ack_timeout_s": 1.0,
    "reconnect_min_s": 0.2,
    "reconnect_max_s": 1.0,
    "status_interval_s": 2,
    "chunk_size": 50,
    "window_chunks": 4,
}
# Mosquitto drops QoS 1 messages for a client once MAX_INFLIGHT are unacknowledged and
# MAX_QUEUED more wait: a SIGSTOPped ingest worker reaches that within a second or two.
MAX_QUEUED = 10
MAX_INFLIGHT = 10


def find_libfaketime() -> str | None:
    """libfaketime.so.1 of this machine's architecture, if installed."""
    hits = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    hits += sorted(glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    return hits[0] if hits else None


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "ocop_cli.main", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )
    finally:
        out.close()


def _kill(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Agent:
    """One edge agent: its files, its proxy to the broker, its process and its fake clock."""

    env: EdgeEnv
    proxy: CutProxy
    clock_file: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def dev(self) -> str:
        return self.env.dev

    @property
    def url(self) -> str:
        return self.env.url

    @property
    def journal(self) -> Path:
        return self.env.journal


@dataclass
class Worker:
    """One ingest-only server process; ``stopped`` while it is SIGSTOPped."""

    name: str
    proc: subprocess.Popen[bytes] | None = None
    stopped: bool = False
    starts: int = 0


@dataclass
class Cluster:
    workdir: Path
    n_agents: int
    n_workers: int
    database_url: str = ""  # empty: SQLite in the server's data dir
    faketime: str | None = field(default_factory=find_libfaketime)
    broker_port: int = field(default_factory=free_port)
    broker: Mosquitto | None = None
    broker_starts: int = 0
    server: ServerEnv | None = None
    agents: list[Agent] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    # -- setup -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Create the server DB, the agents' files (catalog, key, registration) and proxies."""
        self.server = make_server(self.workdir, self.broker_port, database_url=self.database_url)
        obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
        catalog = parse_catalog({**obj, "version": 1, "public_base_url": self.server.base_url})
        for i in range(self.n_agents):
            proxy = CutProxy(self.broker_port, f"agent{i + 1}")
            proxy.start()
            env = make_edge(self.workdir, f"kc-fault-{i + 1}", proxy.port, **EDGE_MQTT)
            enrol(self.server, env)
            agent = open_agent(load_config(env.config_path), with_sync=False)
            agent.accept_catalog(catalog)
            agent.close()
            clock_file = env.dir / "faketime"
            clock_file.write_text("+0\n", encoding="utf-8")
            self.agents.append(Agent(env, proxy, clock_file))
        self.workers = [Worker(f"ingest{j + 1}") for j in range(self.n_workers)]

    def start_all(self) -> None:
        self.start_broker(persistence=False)
        for w in self.workers:
            self.start_worker(w)
        for a in self.agents:
            self.start_agent(a)

    # -- broker ------------------------------------------------------------------------------
    def start_broker(self, *, persistence: bool) -> None:
        """Start Mosquitto on the same port as before; a few tries if the port is slow to free."""
        for attempt in range(3):
            broker = Mosquitto(
                self.workdir / "broker",
                self.broker_port,
                persistence=persistence,
                extra_conf=(
                    f"max_queued_messages {MAX_QUEUED}\n"
                    f"max_inflight_messages {MAX_INFLIGHT}\nlog_type notice"
                ),
            )
            try:
                broker.start()
            except BrokerError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
                continue
            self.broker = broker
            self.broker_starts += 1
            return

    def kill_broker(self) -> None:
        """SIGKILL: the broker has no chance to save or say goodbye."""
        if self.broker is not None and self.broker.proc is not None:
            _kill(self.broker.proc)
            self.broker.proc = None
        self.broker = None

    # -- ingest workers ------------------------------------------------------------------------
    def start_worker(self, w: Worker) -> None:
        assert self.server is not None
        log = self.workdir / f"{w.name}.log"
        w.proc = _spawn(["server", "--config", str(self.server.config_path), "ingest"], log)
        w.stopped = False
        w.starts += 1

    def kill_worker(self, w: Worker) -> None:
        if w.stopped and w.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(signal.SIGCONT)
        _kill(w.proc)
        w.stopped = False

    def pause_worker(self, w: Worker, paused: bool) -> None:
        """SIGSTOP / SIGCONT: the broker sees a subscriber that stopped reading."""
        if w.proc is None or w.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            w.proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)
        w.stopped = paused

    # -- agents --------------------------------------------------------------------------------
    def agent_env(self, a: Agent) -> dict[str, str]:
        env = dict(os.environ)
        if self.faketime is not None:
            env.update(
                LD_PRELOAD=self.faketime,
                FAKETIME_TIMESTAMP_FILE=str(a.clock_file),
                FAKETIME_NO_CACHE="1",
                FAKETIME_DONT_FAKE_MONOTONIC="1",
            )
        return env

    def start_agent(self, a: Agent) -> None:
        args = ["edge", "--config", str(a.env.config_path), "run"]
        a.proc = _spawn(args, a.env.dir / "log", self.agent_env(a))
        a.starts += 1

    def kill_agent(self, a: Agent) -> None:
        _kill(a.proc)

    def set_clock(self, a: Agent, offset: str) -> None:
        """Write a libfaketime offset ("+3d", "-2h", "+0"); the agent reads it on every call."""
        tmp = a.clock_file.with_suffix(".tmp")
        tmp.write_text(offset + "\n", encoding="utf-8")
        tmp.replace(a.clock_file)

    # -- teardown ------------------------------------------------------------------------------
    def stop_all(self) -> None:
        """Stop agents first (clean offline status), then workers, proxies and the broker."""
        for a in self.agents:
            _kill(a.proc, signal.SIGTERM)
        for w in self.workers:
            if w.stopped:
                self.pause_worker(w, False)
            _kill(w.proc, signal.SIGTERM)
        for a in self.agents:
            a.proxy.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.server is not None:
            self.server.engine.dispose()

    def alive(self) -> dict[str, bool]:
        """Which processes are running now (for the final convergence report)."""
        out = {a.dev: a.proc is not None and a.proc.poll() is None for a in self.agents}
        out.update({w.name: w.proc is not None and w.proc.poll() is None for w in self.workers})
        out["broker"] = self.broker is not None and self.broker.proc is not None
        return out
