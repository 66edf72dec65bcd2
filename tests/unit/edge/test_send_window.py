"""The sender's window on its own: each resend rule of docs/protocol.md "Sync rules", then random
runs against a model server and a lossy, reordering link (no broker, no journal, no clock)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.send_window import GAP_RESEND_MIN_S, Send, SendWindow, WindowLimits

LIMITS = WindowLimits(chunk_size=100, window_chunks=4, ack_timeout_s=10.0)


def _window(acked: int = 0, *, now: float = 0.0, limits: WindowLimits = LIMITS) -> SendWindow:
    window = SendWindow(limits)
    window.connect(acked, blocked=False, now=now)
    return window


def _fill(window: SendWindow, head: int, now: float) -> list[Send]:
    """Publish every chunk the window allows now."""
    sends = []
    while (send := window.next_send(head, now)) is not None:
        window.published(send.upto)
        sends.append(send)
    return sends


# -- one rule at a time ----------------------------------------------------------------------
def test_chunks_follow_each_other_until_the_window_is_full() -> None:
    window = _window()
    sends = _fill(window, 1000, 1.0)
    assert [(s.after, s.upto) for s in sends] == [(0, 100), (100, 200), (200, 300), (300, 400)]
    assert window.next_send(1000, 1.0) is None  # 400 in flight: wait for acks


def test_an_ack_opens_the_window_by_what_it_confirms() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    outcome = window.ack(150, gap=False, error=False, now=2.0)
    assert outcome.acked == 150 and outcome.progressed and not outcome.resend
    assert [(s.after, s.upto) for s in _fill(window, 1000, 2.0)] == [(400, 500), (500, 600)]


def test_the_last_chunk_stops_at_the_journal_head_and_then_nothing_is_sent() -> None:
    window = _window()
    assert [(s.after, s.upto) for s in _fill(window, 30, 1.0)] == [(0, 30)]
    assert window.next_send(30, 2.0) is None


def test_while_a_chunk_is_in_flight_new_events_wait_for_a_full_chunk_or_the_ack() -> None:
    """Nagle's rule (issue 17): under load one chunk per event cost the server a lock, a
    savepoint and an ack per event."""
    window = _window()
    assert [(s.after, s.upto) for s in _fill(window, 130, 1.0)] == [(0, 100)]
    assert window.next_send(199, 1.5) is None  # 99 new events: not a full chunk yet
    assert window.next_send(200, 1.5) == Send(after=100, upto=200)  # a full one goes
    window.published(200)
    window.ack(200, gap=False, error=False, now=2.0)
    assert window.next_send(230, 2.0) == Send(after=200, upto=230)  # nothing in flight: at once


def test_an_ack_beyond_what_was_published_confirms_only_what_was() -> None:
    window = _window(50)
    window.published(120)
    outcome = window.ack(500, gap=False, error=False, now=1.0)
    assert outcome.acked == 120 and outcome.beyond_published


def test_a_reconnect_forgets_what_was_published_before() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    window.disconnect()
    assert window.next_send(1000, 2.0) is None  # nothing is handed to paho while offline
    window.connect(0, blocked=False, now=3.0)
    # An ack for the old connection's chunks confirms nothing this connection sent.
    assert window.ack(400, gap=False, error=False, now=3.5).acked == 0
    assert window.next_send(1000, 4.0) == Send(after=0, upto=100)


def test_old_and_repeated_acks_change_nothing() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    window.ack(300, gap=False, error=False, now=2.0)
    sent = window.sent_upto
    for upto in (100, 300, 0):
        outcome = window.ack(upto, gap=False, error=False, now=3.0)
        assert outcome.acked == 300 and not outcome.progressed and not outcome.resend
    assert window.acked == 300 and window.sent_upto == sent


def test_a_gap_resends_from_the_confirmed_position_at_once() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    outcome = window.ack(100, gap=True, error=False, now=2.0)
    assert outcome.resend and window.next_send(1000, 2.0) == Send(after=100, upto=200)


def test_a_gap_named_again_resends_only_after_a_second() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    assert window.ack(100, gap=True, error=False, now=2.0).resend
    _fill(window, 1000, 2.0)
    assert not window.ack(100, gap=True, error=False, now=2.5).resend  # same window's chunk
    assert window.next_send(1000, 2.5) is None
    assert window.ack(100, gap=True, error=False, now=2.0 + GAP_RESEND_MIN_S).resend
    assert window.next_send(1000, 3.0) == Send(after=100, upto=200)


def test_a_stale_gap_ack_resends_from_our_acked_never_lower() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    window.ack(200, gap=False, error=False, now=2.0)
    outcome = window.ack(0, gap=True, error=False, now=2.1)  # the other ingest worker, late
    assert outcome.resend and outcome.acked == 200
    assert window.next_send(1000, 2.1) == Send(after=200, upto=300)


def test_stalled_acks_resend_one_chunk_from_acked_with_a_doubling_wait() -> None:
    window = _window(now=0.0)
    _fill(window, 1000, 0.0)
    window.ack(100, gap=False, error=False, now=1.0)
    _fill(window, 1000, 1.0)
    assert window.next_send(1000, 1.0 + 10.0) is None  # not later than the wait
    resend = window.next_send(1000, 1.0 + 10.5)
    assert resend == Send(after=100, upto=200, stalled=True)
    window.published(resend.upto)
    assert window.stall_timeout() == 20.0
    # A probe, not the window: nothing more until an ack or the next, doubled, wait.
    assert window.next_send(1000, 11.5 + 20.0) is None
    assert window.next_send(1000, 11.5 + 20.5) == Send(after=100, upto=200, stalled=True)
    window.published(200)
    window.ack(150, gap=False, error=False, now=40.0)
    assert window.stall_timeout() == 40.0  # a probe's ack: the backed-off wait holds (Karn)


def test_after_a_probe_gets_through_what_was_in_flight_is_not_sent_again() -> None:
    """Acks that were slow, not lost: the window sent before the stall still counts as on its
    way, so the device sends only new chunks beyond it (issue 17: 4.2x resends under 10x)."""
    window = _window(now=0.0)
    _fill(window, 1000, 0.0)  # 0-400 in flight
    assert window.next_send(1000, 10.5) == Send(after=0, upto=100, stalled=True)
    window.published(100, 10.5)
    window.ack(100, gap=False, error=False, now=12.0)  # the probe's (or the first chunk's) ack
    assert window.next_send(1000, 12.0) == Send(after=400, upto=500)  # 100-400 not again
    window.ack(400, gap=False, error=False, now=13.0)
    assert window.acked == 400


def test_the_wait_follows_the_measured_ack_latency() -> None:
    window = _window(now=0.0)
    for i in range(20):  # every chunk acked 30 s after it was first sent
        t = 100.0 * i
        send = window.next_send(10_000, t)
        assert send is not None and not send.stalled
        window.published(send.upto, t)
        window.ack(send.upto, gap=False, error=False, now=t + 30.0)
    assert window.srtt is not None and 29.0 < window.srtt <= 30.0
    assert 30.0 <= window.ack_wait() < 40.0  # above the configured 10 s: no needless resend
    _fill(window, 10_000, 2000.0)
    assert window.next_send(10_000, 2000.0 + 25.0) is None  # 25 s: slow, not stalled
    # Resent chunks are not timed (Karn): a stall and a late ack leave the estimate alone.
    before = window.srtt
    stalled = window.next_send(10_000, 2000.0 + window.stall_timeout() + 1)
    assert stalled is not None and stalled.stalled
    window.published(stalled.upto, 2100.0)
    window.ack(stalled.upto, gap=False, error=False, now=2101.0)
    assert window.srtt == before


def test_a_probe_acked_keeps_the_longer_wait_until_a_chunk_sent_once_is_acked() -> None:
    """Karn's algorithm: the ack of a resent chunk says the server is alive, not how far behind
    it is, so the backed-off wait holds; a fresh chunk's ack brings the measured wait back."""
    window = _window(now=0.0)
    sends = [window.next_send(10_000, 0.0)]
    assert sends[0] is not None
    window.published(sends[0].upto, 0.0)
    probe = window.next_send(10_000, 11.0)  # 10 s without an ack: a stall
    assert probe is not None and probe.stalled and window.stalls == 1
    window.published(probe.upto, 11.0)
    window.ack(probe.upto, gap=False, error=False, now=12.0)
    assert window.acked == probe.upto
    assert window.stall_timeout() == 2 * window.ack_wait()  # still backed off
    fresh = window.next_send(10_000, 12.0)
    assert fresh is not None and not fresh.stalled
    window.published(fresh.upto, 12.0)
    # Slower than the old wait, faster than the backed-off one: more chunks, no stall.
    assert not any(send.stalled for send in _fill(window, 10_000, 12.0 + 15.0))
    window.ack(fresh.upto, gap=False, error=False, now=12.0 + 15.0)
    assert window.stalls == 0 and window.stall_timeout() == window.ack_wait()


def test_the_wait_never_drops_below_the_configured_timeout() -> None:
    window = _window(now=0.0)
    send = window.next_send(100, 0.0)
    assert send is not None
    window.published(send.upto, 0.0)
    window.ack(send.upto, gap=False, error=False, now=0.05)
    assert window.ack_wait() == LIMITS.ack_timeout_s


def test_nothing_in_flight_is_no_stall() -> None:
    window = _window(100)
    assert window.next_send(100, 1000.0) is None and window.stalls == 0


def test_an_error_ack_blocks_sending_and_an_ack_without_error_clears_it() -> None:
    window = _window()
    _fill(window, 1000, 1.0)
    window.ack(120, gap=False, error=True, now=2.0)
    assert window.blocked and window.acked == 120
    assert window.next_send(1000, 100.0) is None  # no resend loop, even past the stall wait
    window.ack(120, gap=False, error=False, now=101.0)
    assert window.next_send(1000, 200.0) is not None


def test_a_block_kept_in_the_journal_holds_after_a_reconnect() -> None:
    window = SendWindow(LIMITS)
    window.connect(40, blocked=True, now=0.0)
    assert window.next_send(1000, 100.0) is None


def test_a_resend_command_goes_back_below_acked_until_the_server_catches_up() -> None:
    window = _window(300)
    window.resend_command(101, now=1.0)  # the server's database lost 101-300
    assert window.floor == 100
    assert window.next_send(1000, 1.0) == Send(after=100, upto=200)
    window.published(200)
    # Its acks are below our acked, but they are progress: no stall while they come.
    outcome = window.ack(200, gap=False, error=False, now=5.0)
    assert outcome.acked == 300 and window.floor == 200
    _fill(window, 1000, 5.0)
    assert window.next_send(1000, 14.0) is None  # 10 s since the last progress at 5.0: no stall
    window.ack(300, gap=False, error=False, now=14.0)
    assert window.floor is None and window.resume_point == 300


def test_a_resend_command_at_or_above_acked_is_a_plain_resend() -> None:
    window = _window(300)
    _fill(window, 1000, 1.0)
    window.resend_command(301, now=1.5)
    assert window.floor is None
    assert window.next_send(1000, 1.5) == Send(after=300, upto=400)


# -- random runs -----------------------------------------------------------------------------
@dataclass
class Link:
    """A device, a lossy reordering link and a model server that commits only what continues
    its head and answers every chunk with ``upto = head`` and ``gap`` (docs/protocol.md)."""

    window: SendWindow
    head: int = 0  # the device journal's head
    server: int = 0  # the server's committed head
    now: float = 0.0
    up: list[tuple[int, int]] = field(default_factory=list)  # chunks on their way
    down: list[tuple[int, bool]] = field(default_factory=list)  # acks on their way
    max_acked: int = 0

    def tick(self) -> None:
        while (send := self.window.next_send(self.head, self.now)) is not None:
            assert send.after < send.upto <= self.head  # nothing beyond the journal's head
            assert send.count <= self.window.limits.chunk_size
            # The window: a chunk starts only below resume point + chunk_size × window_chunks.
            assert send.after < self.window.resume_point + self.window.limits.events
            self.window.published(send.upto)
            self.up.append((send.after, send.upto))

    def deliver_chunk(self, i: int) -> None:
        after, upto = self.up.pop(i % len(self.up))
        if after <= self.server < upto:
            self.server = upto
        self.down.append((self.server, upto > self.server))

    def deliver_ack(self, i: int) -> None:
        upto, gap = self.down.pop(i % len(self.down))
        before = self.window.acked
        outcome = self.window.ack(upto, gap=gap, error=False, now=self.now)
        assert outcome.acked == self.window.acked >= before

    def settle(self) -> None:
        """Send what the window allows and deliver everything, in order, until nothing moves."""
        while True:
            self.tick()
            if not self.up and not self.down:
                return
            while self.up:
                self.deliver_chunk(0)
            while self.down:
                self.deliver_ack(0)
            self.check()

    def reconnect(self, keep_chunks: bool) -> None:
        """A lost connection: acks on their way are lost (QoS 0, clean session); chunks the
        broker already took may still reach the server."""
        self.window.disconnect()
        self.down.clear()
        if not keep_chunks:
            self.up.clear()
        self.window.connect(self.window.acked, blocked=False, now=self.now)
        first = self.window.next_send(self.head, self.now)
        if first is not None:
            assert first.after == self.window.acked  # resumes at acked + 1
            self.window.published(first.upto)
            self.up.append((first.after, first.upto))

    def check(self) -> None:
        w = self.window
        assert self.max_acked <= w.acked <= self.server  # never backwards, never unconfirmed
        assert w.acked <= w.published_max <= self.head
        assert w.sent_upto <= self.head
        # In flight: at most the window plus the tail of the chunk that started inside it.
        assert w.sent_upto - w.resume_point < w.limits.events + w.limits.chunk_size
        self.max_acked = w.acked


OPS = st.one_of(
    st.tuples(st.just("write"), st.integers(1, 120)),
    st.tuples(st.just("tick"), st.floats(0.0, 30.0)),
    st.tuples(st.just("chunk"), st.integers(0, 50)),
    st.tuples(st.just("drop_chunk"), st.integers(0, 50)),
    st.tuples(st.just("ack"), st.integers(0, 50)),
    st.tuples(st.just("drop_ack"), st.integers(0, 50)),
    st.tuples(st.just("reconnect"), st.booleans()),
)
LIMITS_ST = st.builds(
    WindowLimits,
    chunk_size=st.integers(1, 60),
    window_chunks=st.integers(1, 6),
    ack_timeout_s=st.floats(0.5, 20.0),
)


@settings(max_examples=300, deadline=None)
@given(limits=LIMITS_ST, ops=st.lists(OPS, max_size=80))
def test_random_runs_keep_the_invariants_and_end_fully_acked(
    limits: WindowLimits, ops: list[tuple[str, object]]
) -> None:
    link = Link(SendWindow(limits))
    link.window.connect(0, blocked=False, now=0.0)
    for op, arg in ops:
        if op == "write":
            assert isinstance(arg, int)
            link.head += arg
        elif op == "tick":
            assert isinstance(arg, float)
            link.now += arg
            link.tick()
        elif op in ("chunk", "drop_chunk") and link.up:
            assert isinstance(arg, int)
            if op == "chunk":
                link.deliver_chunk(arg)
            else:
                link.up.pop(arg % len(link.up))
        elif op in ("ack", "drop_ack") and link.down:
            assert isinstance(arg, int)
            if op == "ack":
                link.deliver_ack(arg)
            else:
                link.down.pop(arg % len(link.down))
        elif op == "reconnect":
            assert isinstance(arg, bool)
            link.reconnect(keep_chunks=arg)
        link.check()
    # Then the link heals: everything that is sent arrives, in order, and is acked. Whatever
    # state the chaos left, the window must get the server to the journal's head.
    for _ in range(20):
        link.settle()
        if link.window.acked == link.head:
            break
        link.now += link.window.stall_timeout() + 0.5  # long enough for a stall resend
    assert link.window.acked == link.server == link.head


@settings(max_examples=200, deadline=None)
@given(
    limits=LIMITS_ST,
    head=st.integers(1, 2000),
    lost=st.integers(0, 2000),
    drops=st.lists(st.booleans(), max_size=60),
)
def test_a_restored_server_is_refilled_by_the_resend_command(
    limits: WindowLimits, head: int, lost: int, drops: list[bool]
) -> None:
    """The server's database went back to an older backup: its status rule asks for a resend
    from its head + 1 (sync_server status_rules) while the device's acked is above its head."""
    link = Link(SendWindow(limits), head=head, server=head)
    link.window.connect(head, blocked=False, now=0.0)
    link.max_acked = head
    link.server = max(0, head - lost)
    for step in range(10 * (head // limits.chunk_size + 10)):
        if link.server == head:
            break
        link.now += limits.ack_timeout_s / 2
        if link.window.acked > link.server and step % 3 == 0:  # a status every few rounds
            link.window.resend_command(link.server + 1, link.now)
        link.tick()
        dropping = drops[step] if step < len(drops) else False
        while link.up:
            if dropping:
                link.up.pop()
            else:
                link.deliver_chunk(0)
        while link.down:
            link.deliver_ack(0)
        assert link.window.acked == head  # acked events stay acked
    assert link.server == head
