"""The sender's window: from connects, acks, gaps and stalls, what the sync worker sends next.

Pure: no MQTT, no journal, no clock. ``edge_agent/sync.py`` tells it what happened (a connect, a
disconnect, an ack, a ``resend`` command, a chunk handed to paho), passing the monotonic time and
the journal's head, and does what it answers. The rules are docs/protocol.md's "Sync rules"
(DESIGN.md §4): a broker PUBACK is not a commit; an ack never confirms more than this connection
published; resend from ``acked + 1`` on every connect, at once on a gap, and whenever acks stall.

How long "stall" is adapts to the server (issue 17): the wait is ``ack_timeout_s`` or, when acks
come slower, the measured ack latency (RFC 6298's smoothed RTT + 4 × its variation, sampled only
on chunks sent once: Karn's rule), doubled after each stall and kept doubled until a chunk sent
once is acked (Karn's algorithm). A stall
resends ONE chunk (a probe), not the window: acks that are merely slow are not answered with a
window of duplicates, and an overloaded server is not sent more work when it can do least.
While a chunk is unacknowledged, a partial chunk waits for more events or the next ack (Nagle).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

GAP_RESEND_MIN_S = 1.0
MAX_STALL_DOUBLINGS = 3
RTT_GAIN = 1 / 8  # RFC 6298 alpha
RTTVAR_GAIN = 1 / 4  # RFC 6298 beta


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
        self.stalls = 0  # stalls since a chunk sent once was last acked (Karn)
        # Measured ack latency (seconds), kept across reconnects: it is the server's, not the
        # connection's. None until the first sample.
        self.srtt: float | None = None
        self.rttvar = 0.0
        # (last seq, when) of chunks published for the first time and not sent again since:
        # the only ones whose ack is a fair latency sample (Karn's rule).
        self._timed: deque[tuple[int, float]] = deque()
        # After a stall: only one chunk goes out until an ack progresses; then what had been
        # sent before the stall (up to here) counts as still in flight.
        self._probing = False
        self._recover = 0
        self._last_progress = 0.0
        self._last_gap_resend = float("-inf")
        self._last_gap_resend_upto = -1

    @property
    def resume_point(self) -> int:
        """The seq after which a resend starts: ``acked``, or the server's floor below it."""
        return self.acked if self.floor is None else min(self.floor, self.acked)

    def ack_wait(self) -> float:
        """The wait before a resend when nothing stalled yet: ``ack_timeout_s``, or the measured
        ack latency plus four times its variation when acks come slower than that."""
        measured = 0.0 if self.srtt is None else self.srtt + 4 * self.rttvar
        return max(float(self.limits.ack_timeout_s), measured)

    def stall_timeout(self) -> float:
        """How long to wait for acks before resending: :meth:`ack_wait`, doubled after each
        stall (at most ×8) until a chunk sent once is acked, so an overloaded server is not sent
        the same chunks again and again."""
        return self.ack_wait() * float(2 ** min(self.stalls, MAX_STALL_DOUBLINGS))

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
        self._timed.clear()
        self._probing = False

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
            if self._sample_rtt(now):
                # Karn's algorithm (RFC 6298 5.7): the backed-off wait holds until a chunk sent
                # once is acked. An ack of a probe says the server is alive, not how far
                # behind it is: going back to the short wait there re-probed a server whose
                # backlog kept growing, again and again (the load test's 10x phase).
                self.stalls = 0
            if self._probing:
                # The probe got through: what was sent before the stall may still be on its
                # way (acks were slow, not lost). Wait for it rather than send it again; if it
                # was lost, a gap ack or the next stall says so.
                self._probing = False
                self.sent_upto = max(self.sent_upto, min(self._recover, self.published_max))
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

    def published(self, upto: int, now: float | None = None) -> None:
        """paho took the chunk that ends at ``upto`` (not a commit: only an ack is). ``now``,
        when given, times the chunk if it is sent for the first time."""
        if now is not None and upto > self.published_max and self.sent_upto >= self.published_max:
            self._timed.append((upto, now))
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
            self._recover = max(self._recover if self._probing else 0, sent)
            self._probing = True
            self._timed.clear()  # Karn: an ack after a resend times neither send
            sent = base
            self._last_progress = now
        elif self._probing and sent > base:
            return None  # the probe is out: wait for its ack (or the next, longer, stall)
        self.sent_upto = sent
        if head <= sent or sent >= base + self.limits.events:
            return None
        if sent > base and head - sent < self.limits.chunk_size:
            # Nagle's rule: while a chunk is unacknowledged, new events wait for a full chunk
            # or the next ack. Under load acks come slower and chunks grow, so the server pays
            # its per-chunk cost (a lock, a savepoint, an ack) per chunk_size events rather
            # than per event (issue 17); with nothing in flight an event goes at once.
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
            self._probing = False  # a gap: everything beyond it was dropped, send it all again
            self._timed.clear()
            return True
        return False

    def _sample_rtt(self, now: float) -> bool:
        """The newest chunk this ack confirms, if it was sent once: one latency sample. True
        when there was one."""
        sample = None
        while self._timed and self._timed[0][0] <= self.acked:
            sample = now - self._timed.popleft()[1]
        if sample is None:
            return False
        if self.srtt is None:
            self.srtt, self.rttvar = sample, sample / 2
        else:
            self.rttvar += RTTVAR_GAIN * (abs(self.srtt - sample) - self.rttvar)
            self.srtt += RTT_GAIN * (sample - self.srtt)
        return True
