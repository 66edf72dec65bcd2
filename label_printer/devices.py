"""Send label bytes to CUPS queues, raw TCP (port 9100) printers and USB printer device files.

Each transport only moves bytes: the job is rendered beforehand, in whatever language the
printer speaks. Failures become :class:`~label_printer.transports.PrinterError` with a
message a worker can act on (switch the printer on, plug it in, fix the queue name).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import re
import select
import socket
import subprocess
import time
from urllib.parse import SplitResult

from label_printer.transports import PrinterError

DEFAULT_RAW_PORT = 9100
_QUEUE_NAME = re.compile(r"[^\s/#\\-][^\s/#\\]{0,126}")
_JOB_ID = re.compile(r"request id is (\S+)")


class CupsPrinter:
    """Hands each job to CUPS with ``lp -d QUEUE`` (``-h server`` for a remote CUPS)."""

    def __init__(
        self, queue: str, server: str = "", raw: bool = False, timeout: float = 60.0
    ) -> None:
        if not _QUEUE_NAME.fullmatch(queue):
            raise ValueError(f"not a CUPS queue name: {queue!r}")
        self.queue, self.server, self.raw, self.timeout = queue, server, raw, timeout

    def command(self, name: str) -> list[str]:
        """The ``lp`` command line for a job titled ``name`` (the data goes to its stdin)."""
        cmd = ["lp"]
        if self.server:
            cmd += ["-h", self.server]  # before -d: lp looks the queue up as it parses
        cmd += ["-d", self.queue, "-t", name or "label"]
        if self.raw:
            cmd += ["-o", "raw"]  # ZPL, TSPL, ESC/POS: no CUPS filters
        return cmd

    def send(self, name: str, data: bytes) -> str:
        """Queue the job; returns the CUPS job id (e.g. ``labels-12``)."""
        try:
            done = subprocess.run(
                self.command(name), input=data, capture_output=True, timeout=self.timeout
            )
        except FileNotFoundError:
            raise PrinterError(
                "Cannot print through CUPS: the lp command is missing (install cups-client)"
            ) from None
        except subprocess.TimeoutExpired:
            raise PrinterError(
                f"CUPS did not take the label job for {self.queue} within {self.timeout:g} s: "
                "is the CUPS service running?"
            ) from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip() or f"lp exit {done.returncode}"
            raise PrinterError(f"CUPS refused the label job for printer {self.queue}: {reason}")
        found = _JOB_ID.search(done.stdout.decode("utf-8", "replace"))
        return found[1] if found else ""


class RawTcpPrinter:
    """Streams each job to a network printer's raw port (JetDirect / AppSocket, 9100)."""

    def __init__(
        self, host: str, port: int = DEFAULT_RAW_PORT, timeout: float = 10.0, drain: float = 0.5
    ) -> None:
        if not host:
            raise ValueError("a raw TCP printer needs a host name or address")
        self.host, self.port, self.timeout, self.drain = host, port, timeout, drain

    @classmethod
    def from_url(cls, parts: SplitResult, options: dict[str, str]) -> RawTcpPrinter:
        try:
            port = parts.port or DEFAULT_RAW_PORT
            timeout = float(options.get("timeout", "10"))
        except ValueError as exc:
            raise ValueError(f"bad raw TCP printer URL {parts.geturl()!r}: {exc}") from None
        if not parts.hostname:
            raise ValueError(
                f"raw TCP printer URLs look like tcp://host:9100, got {parts.geturl()}"
            )
        return cls(parts.hostname, port, timeout)

    def send(self, name: str, data: bytes) -> None:
        where = f"{self.host}:{self.port}"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                self._drain(sock)
        except ConnectionRefusedError:
            raise PrinterError(
                f"Printer {where} refused the connection: is it switched on, and is {self.port} "
                "its raw printing port?"
            ) from None
        except TimeoutError:
            raise PrinterError(
                f"Printer {where} did not answer within {self.timeout:g} s: check that it is "
                "switched on and on the network"
            ) from None
        except socket.gaierror as exc:
            raise PrinterError(f"Unknown printer address {self.host}: {exc.strerror}") from None
        except OSError as exc:
            raise PrinterError(f"Could not send label {name} to printer {where}: {exc}") from None

    def _drain(self, sock: socket.socket) -> None:
        """Read what the printer says until it closes (or briefly), so closing with unread
        status bytes does not reset the connection and drop the end of the job."""
        deadline = time.monotonic() + self.drain
        with contextlib.suppress(OSError):
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(4096):
                    return


class DevicePrinter:
    """Writes each job to a printer device file such as ``/dev/usb/lp0`` (never creates it)."""

    def __init__(self, path: pathlib.Path, timeout: float = 30.0) -> None:
        self.path, self.timeout = pathlib.Path(path), timeout

    def send(self, name: str, data: bytes) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise PrinterError(self._explain(exc)) from None
        try:
            view = memoryview(data)
            while view:
                _, writable, _ = select.select([], [fd], [], self.timeout)
                if not writable:
                    raise PrinterError(
                        f"Printer {self.path} stopped taking data for {self.timeout:g} s: is it "
                        "out of paper, offline or its cover open?"
                    )
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    continue
        except OSError as exc:
            raise PrinterError(self._explain(exc)) from None
        finally:
            os.close(fd)

    def _explain(self, exc: OSError) -> str:
        if exc.errno == errno.ENOENT:
            return f"No printer at {self.path}: is it plugged in and switched on?"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"No permission to write to {self.path}: add this user to the 'lp' group"
        if exc.errno in (errno.ENODEV, errno.ENXIO, errno.EIO):
            return f"Printer {self.path} is not responding ({exc.strerror}): check cable and power"
        return f"Could not write to printer {self.path}: {exc.strerror or exc}"
