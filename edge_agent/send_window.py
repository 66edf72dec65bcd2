"""The sender's window: from connects, acks, gaps and stalls, what the sync worker sends next.

Pure: no MQTT, no journal, no clock. ``edge_agent/sync.py`` tells it what happened (a connect, a
disconnect, an ack, a ``resend`` command, a chunk handed to paho), passing the monotonic time and
the journal's head, and does what it answers. The rules are docs/protocol.md's "Sync rules"
(DESIGN.md §4): a broker PUBACK is not a commit; an ack never confirms more than this connection
published; resend from ``acked + 1`` on every connect, at once on a gap, and whenever acks stall.
"""

from __future__ import annotations

from dataclasses import dataclass

GAP_RESEND_MIN_S = 1.0
MAX_STALL_DOUBLINGS = 3


@dataclass(frozen=True)
class WindowLimits:
    """The ``[mqtt]`` settings the window works with (docs/config.md)."""

    chunk_size: int
    window_chunks: int
    ack_timeout_s: float

    @property
    def events(self) -> int:
        """How far beyond the resend position a new chunk may still start."""
        return self.chunk_size * self.window_chunks


@dataclass(frozen=True)
class Send:
    """Publish the journal's events ``after + 1`` … ``upto`` as one chunk."""

    after: int
    upto: int
    stalled: bool = False  # the window is sent again because acks stopped advancing

    @property
    def count(self) -> int:
        return self.upto - self.after


@dataclass(frozen=True)
class AckOutcome:
    """What one ack changed: ``acked`` is the position to record in the journal."""

    acked: int
    progressed: bool
    beyond_published: bool  # the server reports more than this connection sent (another history)
    resend: bool  # a gap made the window go back to resend at once


class SendWindow:
    """The sender's position on one device. Only the sync thread uses it: it takes no lock."""

    def __init__(self, limits: WindowLimits) -> None:
        self.limits = limits
        self.connected = False
        self.blocked = False  # the server refused an event: send nothing (no resend loop)
        self.acked = 0
        self.sent_upto = 0
        # Highest seq published on this connection: an ack never confirms more than that. A
        # server that reports more holds another history (a Pi restored from an old backup);
        # sending our events lets it see the fork instead of us skipping them.
        self.published_max = 0
        # The server's committed position when it is *behind* our acked seq (its database was
        # restored from a backup): we resend from there although those events count as acked.
        self.floor: int | None = None
        self.stalls = 0  # resends for stalled acks since the last progress
        self._last_progress = 0.0
        self._last_gap_resend = float("-inf")
        self._last_gap_resend_upto = -1

    @property
    def resume_point(self) -> int:
        """The seq after which a resend starts: ``acked``, or the server's floor below it."""
        return self.acked if self.floor is None else min(self.floor, self.acked)

    def stall_timeout(self) -> float:
        """How long to wait for acks before resending the window: ``ack_timeout_s``, doubled
        after each resend that brought no progress (at most ×8), so an overloaded server is
        not sent the same chunks again and again."""
        return float(self.limits.ack_timeout_s * 2 ** min(self.stalls, MAX_STALL_DOUBLINGS))

    # -- what happened ---------------------------------------------------------------------
    def connect(self, acked: int, *, blocked: bool, now: float) -> None:
        """A CONNACK: whatever was in flight may be lost, so send again from ``acked + 1``.
        ``acked`` and ``blocked`` are the journal's, which keeps them across restarts."""
        self.connected = True
        self.blocked = blocked
        self.acked = max(self.acked, acked)
        self.sent_upto = self.published_max = self.acked
        self._last_progress = now
        self.stalls = 0

    def disconnect(self) -> None:
        self.connected = False

    def ack(self, upto: int, *, gap: bool, error: bool, now: float) -> AckOutcome:
        """An ack from the server: ``acked := max(acked, min(upto, published))``."""
        before = self.acked
        self.acked = max(before, min(upto, self.published_max))
        self.blocked = error
        progressed = self.acked > before
        if progressed:
            self._last_progress = now
            self.stalls = 0
        resend = False
        if upto < before:
            # Normally a stale ack, overtaken by a newer one (two ingest workers): its position
            # says nothing new. While refilling a restored server (the resend command set a
            # floor), it is progress.
            if self.floor is not None and upto > self.floor:
                self.floor = upto
                self._last_progress = now
            elif gap:
                # But its gap flag does: a worker dropped a chunk that overtook its predecessor
                # (the newer ack came from the other worker). Resend after what is confirmed
                # now instead of waiting for the ack timeout; duplicates are ignored.
                resend = self._resend_from(before, now)
        else:
            self.floor = None
            if gap:
                resend = self._resend_from(self.acked, now)
        return AckOutcome(
            acked=self.acked,
            progressed=progressed,
            beyond_published=upto > self.published_max,
            resend=resend,
        )

    def resend_command(self, first: int, now: float) -> None:
        """The server asks for its journal again from seq ``first`` (its database was restored
        from a backup): resend from there at once, even below ``acked``, until its acks reach
        ``acked`` again."""
        upto = first - 1
        self.floor = upto if upto < self.acked else None
        self._last_gap_resend = float("-inf")
        self._resend_from(upto, now)

    def published(self, upto: int) -> None:
        """paho took the chunk that ends at ``upto`` (not a commit: only an ack is)."""
        self.sent_upto = upto
        self.published_max = max(self.published_max, upto)

    # -- what to do ------------------------------------------------------------------------
    def next_send(self, head: int, now: float) -> Send | None:
        """The next chunk to publish, given the journal's ``head``, or None: not connected,
        blocked, nothing new, or the window is full until acks come."""
        if not self.connected or self.blocked:
            return None
        base = self.resume_point
        sent = max(self.sent_upto, base)
        stalled = sent > base and now - self._last_progress > self.stall_timeout()
        if stalled:
            self.stalls += 1
            sent = base
            self._last_progress = now
        self.sent_upto = sent
        if head <= sent or sent >= base + self.limits.events:
            return None
        if sent == base:
            self._last_progress = now  # the stall clock starts when something is in flight
        return Send(after=sent, upto=min(sent + self.limits.chunk_size, head), stalled=stalled)

    def _resend_from(self, upto: int, now: float) -> bool:
        """Go back to ``upto`` at once. Several gap acks of one window name the same position
        (acks come per chunk): only the first resends, unless a second has passed."""
        if upto > self._last_gap_resend_upto or now - self._last_gap_resend >= GAP_RESEND_MIN_S:
            self._last_gap_resend = now
            self._last_gap_resend_upto = upto
            self.sent_upto = min(self.sent_upto, upto)
            return True
        return False
