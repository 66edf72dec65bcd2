"""Network cameras (RTSP, HTTP MJPEG) read by a background thread that keeps the stream live.

A network camera pushes frames whether or not anyone reads them. Reading on demand would hand out
frames queued seconds ago (TCP) or torn ones (UDP), so one thread per camera grabs every frame
and converts only the one a caller asks for. Every blocking OpenCV call has a timeout, and a dead
stream is reopened with a capped back-off, so ``read()`` returns None within about ``timeout_s``.
"""

from __future__ import annotations

import logging
import threading

import cv2

from edge_agent.camera.protocol import Frame, as_bgr_frame

log = logging.getLogger(__name__)

# Back-off between reopen attempts of a dead stream: first retry soon, then at most every
# RETRY_MAX_S so a camera that comes back is picked up within seconds without hammering it.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0


class StreamSource:
    """An RTSP or HTTP(S) stream opened with OpenCV's FFMPEG backend and open/read timeouts."""

    def __init__(self, name: str, url: str, *, timeout_s: float = 5.0) -> None:
        self.name = name
        self._url = url
        self._timeout_s = timeout_s
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._wanted = False
        self._frame: Frame | None = None
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name=f"camera-{name}", daemon=True)
        self._thread.start()

    def read(self) -> Frame | None:
        """The first frame grabbed after this call, or None if none arrives within timeout_s."""
        with self._cond:
            if self._stop.is_set():
                return None
            seen = self._seq
            self._wanted = True
            self._cond.wait_for(lambda: self._seq != seen or self._stop.is_set(), self._timeout_s)
            if self._seq == seen:
                self._wanted = False
                return None
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        # A grab in progress ends within the read timeout; the thread releases the capture.
        self._thread.join(timeout=2 * self._timeout_s + 1)

    def _open(self) -> cv2.VideoCapture | None:
        timeout_ms = int(self._timeout_s * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, params)
        if not bool(cap.isOpened()):
            cap.release()
            return None
        return cap

    def _run(self) -> None:
        cap: cv2.VideoCapture | None = None
        retry_s = RETRY_FIRST_S
        grabbed = False  # since the last open: a stream that dies at once waits like a failed open
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap, grabbed = self._open(), False
                if cap is not None and bool(cap.grab()):
                    grabbed, retry_s = True, RETRY_FIRST_S
                    self._deliver(cap)
                    continue
                if cap is not None:
                    log.info("camera %s: stream stopped, reopening", self.name)
                    cap.release()
                    cap = None
                if not grabbed:
                    self._stop.wait(retry_s)
                    retry_s = min(retry_s * 2, RETRY_MAX_S)
        finally:
            if cap is not None:
                cap.release()

    def _deliver(self, cap: cv2.VideoCapture) -> None:
        """Convert the grabbed frame only when a reader is waiting for one."""
        with self._cond:
            if not self._wanted:
                return
            ok, image = cap.retrieve()
            frame = as_bgr_frame(image) if ok else None
            if frame is None:
                return
            self._frame = frame
            self._seq += 1
            self._wanted = False
            self._cond.notify_all()
