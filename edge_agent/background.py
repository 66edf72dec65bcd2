"""A named daemon thread with a stop flag and a wake-up call, for the agent's workers."""

from __future__ import annotations

import threading


class Background:
    """Subclasses implement :meth:`_loop`, which runs until ``self._stop`` is set."""

    thread_name = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def notify(self) -> None:
        """Wake the worker now instead of at its next timeout."""
        self._wake.set()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _loop(self) -> None:
        raise NotImplementedError
