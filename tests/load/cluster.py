"""The processes under load: Mosquitto, ``ocop server ingest`` workers and simulator processes.

Every child gets ``PR_SET_PDEATHSIG`` (SIGKILL when the runner dies, however it dies) on top of
the runner's own cleanup; simulators also exit when their stdin closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, func, select, update

from firmware_config.server import broker_limits
from ocop_cli.broker import Mosquitto, free_port
from sync_server.config import ServerConfig, load_config
from sync_server.devices.registry import import_catalog, register_device
from sync_server.service import open_server_engine
from sync_server.store.db import devices, facilities
from tests.load.plan import LoadPlan, device_ids
from tests.load.workload import device_key

REPO = Path(__file__).resolve().parents[2]
KC_CATALOG = REPO / "ocop_cli" / "data" / "kc-rice.json"
PR_SET_PDEATHSIG = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def rss_kb(pid: int) -> int:
    """Resident set size of a live process, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def write_server_config(d: Path, mqtt_port: int, database_url: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    path = d / "server.toml"
    db = f"database_url = {json.dumps(database_url)}\n" if database_url else ""
    path.write_text(
        f'data_dir = "{d}"\n{db}public_base_url = "http://127.0.0.1:{free_port()}"\n'
        f"[mqtt]\nport = {mqtt_port}\nreconnect_max_s = 1\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Simulator:
    """One simulator process and the latest JSON line it printed."""

    index: int
    proc: subprocess.Popen[str]
    out: Path
    latest: dict[str, Any] = field(default_factory=dict)
    ready: int | None = None
    finished: bool = False

    def follow(self, log: IO[str]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            log.write(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "ready" in obj:
                self.ready = int(obj["ready"])
            elif obj.get("finished"):
                self.finished = True
            else:
                self.latest = obj


@dataclass
class LoadCluster:
    workdir: Path
    plan: LoadPlan
    ingest_workers: int
    simulators: int
    database_url: str = ""
    broker: Mosquitto | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sims: list[Simulator] = field(default_factory=list)
    engine: Engine | None = None
    config: ServerConfig | None = None
    # A plain engine for looking on: the server's SQLite engine begins every transaction with
    # BEGIN IMMEDIATE (the write lock), which an observer must not take from the workers.
    reader: Engine | None = None

    def setup_server(self) -> None:
        """Server database with the facility and every simulated device's public key."""
        path = write_server_config(self.workdir / "server", self.plan.port, self.database_url)
        self.config = load_config(path)
        self.engine = open_server_engine(self.config)
        self.reader = create_engine(self.config.db_url)
        import_catalog(self.engine, KC_CATALOG, self.config.public_base_url)
        for dev in device_ids(self.plan.tag, self.plan.devices):
            register_device(self.engine, dev, "KC", device_key(self.plan.seed, dev).public_key_b64)
        # A fleet's catalogs went out when it enrolled: without this, the workers' first minute
        # sweep publishes 2,000 retained catalogs in the middle of the measured load.
        with self.engine.begin() as conn:
            conn.execute(update(facilities).values(published_version=facilities.c.catalog_version))

    def start_broker(self) -> None:
        # The queue limits a province box is provisioned with for this fleet
        # (firmware_config.server.broker_limits: every device's window plus a status). With
        # Mosquitto's default of 1,000 messages per ingest client, the fleet's windows did not
        # fit and the drops came back as gap resends and ack timeouts (issue 17).
        limits = broker_limits(self.plan.devices)
        self.broker = Mosquitto(
            self.workdir / "broker",
            self.plan.port,
            extra_conf="max_connections -1\nlog_type notice\n"
            f"max_queued_messages {limits.max_queued_messages}\n"
            f"max_queued_bytes {limits.max_queued_bytes}\n"
            f"max_inflight_messages {limits.max_inflight_messages}",
        )
        self.broker.start()

    def _popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                preexec_fn=_die_with_parent,
            )

    def start_workers(self, timeout_s: float = 30.0) -> None:
        assert self.config is not None
        cfg = str(self.workdir / "server" / "server.toml")
        logs = []
        for i in range(self.ingest_workers):
            log = self.workdir / f"ingest{i + 1}.log"
            logs.append(log)
            self.workers.append(
                self._popen(["-m", "ocop_cli.main", "server", "--config", cfg, "ingest"], log)
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all("ingest worker connected" in p.read_text(errors="replace") for p in logs):
                return
            if any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"an ingest worker exited; see {self.workdir}/ingest*.log")
            time.sleep(0.2)
        raise RuntimeError("ingest workers did not connect to the broker")

    def start_simulators(self) -> None:
        plan_path = self.workdir / "plan.json"
        self.plan.save(plan_path)
        n = min(self.simulators, self.plan.devices)
        for i in range(n):
            out = self.workdir / f"sim{i + 1}.json"
            log = (self.workdir / f"sim{i + 1}.log").open("a", encoding="utf-8")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.load.simulator",
                    "--plan",
                    str(plan_path),
                    "--shard",
                    str(i),
                    "--shards",
                    str(n),
                    "--out",
                    str(out),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=REPO,
                preexec_fn=_die_with_parent,
            )
            sim = Simulator(i, proc, out)
            threading.Thread(target=sim.follow, args=(log,), daemon=True).start()
            self.sims.append(sim)

    def wait_ready(self) -> int:
        deadline = time.monotonic() + self.plan.connect_s + 30
        while time.monotonic() < deadline and any(s.ready is None for s in self.sims):
            if any(s.proc.poll() is not None for s in self.sims):
                raise RuntimeError(f"a simulator exited; see {self.workdir}/sim*.log")
            time.sleep(0.2)
        return sum(s.ready or 0 for s in self.sims)

    def go(self, t0: float) -> None:
        for s in self.sims:
            assert s.proc.stdin is not None
            s.proc.stdin.write(f"go {t0}\n")
            s.proc.stdin.flush()

    def committed(self) -> int:
        """Events the server holds for this run's devices (sum of their heads)."""
        assert self.reader is not None
        with self.reader.connect() as conn:
            q = select(func.coalesce(func.sum(devices.c.head_seq), 0)).where(
                devices.c.dev_id.like(f"ld{self.plan.tag}-%")
            )
            return int(conn.execute(q).scalar_one())

    def log_counts(self) -> dict[str, int]:
        """Broker drops ("Outgoing messages are being dropped") and ingest errors, from logs."""

        def count(paths: list[Path], needles: tuple[str, ...]) -> int:
            n = 0
            for path in paths:
                if path.exists():
                    with path.open(encoding="utf-8", errors="replace") as f:
                        n += sum(1 for line in f if any(x in line for x in needles))
            return n

        return {
            "broker_drop_lines": count([self.workdir / "broker" / "mosquitto.log"], ("dropped",)),
            "ingest_error_lines": count(
                sorted(self.workdir.glob("ingest*.log")), (" ERROR ", " WARNING ", "Traceback")
            ),
        }

    def pids(self) -> dict[str, int]:
        out = {f"ingest{i + 1}": w.pid for i, w in enumerate(self.workers)}
        if self.broker is not None and self.broker.proc is not None:
            out["broker"] = self.broker.proc.pid
        out.update({f"sim{s.index + 1}": s.proc.pid for s in self.sims})
        return out

    def stop(self) -> None:
        """Simulators, then workers (SIGTERM, then SIGKILL), then the broker."""
        for s in self.sims:
            with contextlib.suppress(OSError):
                if s.proc.stdin is not None:
                    s.proc.stdin.close()
        procs: list[subprocess.Popen[Any]] = [s.proc for s in self.sims] + list(self.workers)
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.broker is not None:
            self.broker.stop()
        for engine in (self.engine, self.reader):
            if engine is not None:
                engine.dispose()
