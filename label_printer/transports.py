"""Deliver rendered label bytes to a printer; transports never render, they only send bytes.

:class:`FilePrinter` drops each job into a directory (a spool folder watched by a print
service, a USB stick, or a shared folder), writing atomically so a watcher never sees a
half-written file. The other transports are in :mod:`label_printer.devices`;
:func:`label_printer.printers.open_printer` picks one by URL.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from typing import Protocol


class PrinterError(Exception):
    """A label could not be sent; the message is meant to be shown to a worker as-is."""


class Printer(Protocol):
    """Anything that sends one rendered job; ``name`` names the job (file name, CUPS title)."""

    def send(self, name: str, data: bytes) -> object: ...


def _check_name(name: str) -> None:
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not name or name.strip() != name:
        raise ValueError(f"label file name must be non-empty without surrounding spaces: {name!r}")
    if any(sep in name for sep in separators):
        raise ValueError(f"label file name must not contain path separators: {name!r}")
    if ".." in name:
        raise ValueError(f"label file name must not contain '..': {name!r}")
    if name.startswith(".") or "\0" in name:
        raise ValueError(f"label file name must not be hidden or contain NUL bytes: {name!r}")


class FilePrinter:
    """Writes each label into ``directory`` under the given file name."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = pathlib.Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrinterError(
                f"Cannot use label folder {self.directory}: {exc.strerror or exc}"
            ) from exc

    def send(self, name: str, data: bytes) -> pathlib.Path:
        """Atomically write ``data`` to ``directory/name`` and return that path.

        The bytes go to a temporary file in the same folder, are flushed to disk, and the
        file is then renamed over the final name, so readers see either nothing or all of it.
        """
        _check_name(name)
        final = self.directory / name
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise PrinterError(f"Cannot write to label folder {self.directory}: {exc}") from exc
        tmp = pathlib.Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise PrinterError(f"Could not save label {final}: {exc.strerror or exc}") from exc
        self._sync_directory()
        return final

    def _sync_directory(self) -> None:
        """Make the rename durable (best effort: not every OS lets us fsync a directory)."""
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
