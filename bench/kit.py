"""The kit's real parts started for a benchmark: a loopback Mosquitto, server processes, /proc.

Reuses the integration tests' harness (tests/integration/harness.py) so a benchmark runs the
same processes, configured the same way, as the tests do.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ocop_cli.broker import Mosquitto, wait_for_port
from tests.integration.harness import Processes, ServerEnv

CLK_TCK = 100  # USER_HZ: the unit of utime/stime in /proc/<pid>/stat on Linux


@dataclass
class Stack:
    """A broker and the processes started around it; all stopped when the block ends."""

    dir: Path
    broker: Mosquitto
    procs: Processes

    def ingest(self, server: ServerEnv, name: str = "ingest") -> subprocess.Popen[bytes]:
        """One ``ocop server ingest`` worker, as systemd's ``ocop-ingest@N`` runs it."""
        args = ["server", "--config", str(server.config_path), "ingest"]
        return self.procs.start(args, self.dir / f"{name}.log")

    def web(self, server: ServerEnv) -> subprocess.Popen[bytes]:
        """``ocop server web``: the Flask app under waitress, as ``ocop-web@PORT`` runs it."""
        args = ["server", "--config", str(server.config_path), "web"]
        proc = self.procs.start(args, self.dir / "web.log")
        if not wait_for_port(server.config.http.port, 30):
            raise RuntimeError(f"ocop server web did not start; see {self.dir / 'web.log'}")
        return proc

    def python(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        """Another Python process (a baseline), stopped with the others."""
        out = (self.dir / log_name).open("ab")
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT)
        self.procs.running.append(proc)
        return proc


@contextmanager
def open_stack(workdir: Path) -> Iterator[Stack]:
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(workdir / "mosquitto")
    broker.start()
    procs = Processes()
    try:
        yield Stack(workdir, broker, procs)
    finally:
        procs.stop_all()
        broker.stop()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (its threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15


def io_counters(pid: int) -> dict[str, int]:
    """``/proc/<pid>/io`` (``wchar``: bytes passed to write(); ``write_bytes``: sent to the
    block layer); empty when the kernel does not let us read it."""
    try:
        text = Path(f"/proc/{pid}/io").read_text(encoding="utf-8")
    except OSError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines())}


def wait_for(
    predicate: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.02
) -> float:
    """Poll ``predicate()`` until truthy; return the time it became so (perf_counter)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(poll_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
