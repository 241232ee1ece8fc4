"""The interaction lifecycle state machine (SPEC section 1), one instance per interaction.

Events are applied in event-time order (stage one sorts them within the grace);
``apply`` returns the measurement the event completes, ``None`` for an accepted event that
measures nothing (a later ``responded``), or a ``Rejection`` for an impossible transition.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from monitor.domain.stream.events import (
    ABANDONED,
    FAILED,
    OPENED,
    REOPENED,
    RESOLVED,
    RESPONDED,
    TRANSFERRED,
    Event,
    Rejection,
)
from monitor.domain.stream.queues import Queue

OPEN, CLOSED_RESOLVED, CLOSED_FAILED = 0, 1, 2
_RESPONDED_BIT, _ABANDONED_BIT = 1, 2


class Measurement(msgspec.Struct, frozen=True, gc=False):
    """What one event contributes to its window: ``kind`` and a duration (ms) where it has one.
    (A struct, not a NamedTuple: one is made per applied event, and this one is built in C.)"""

    kind: str  # opened | answered | abandoned | resolved | failed | reopened
    ts_ms: int
    value_ms: int = 0


class Pending(msgspec.Struct, gc=False):
    """An accepted event held for its interaction's ``opened``, with where it came from (a
    dead letter names its source if it never gets one).

    msgspec structs with ``gc=False`` (here and ``Interaction``) carry no garbage-collector
    header and are never traversed by it: a million open interactions cost less memory and
    the collector's full passes stay short. Neither can be part of a reference cycle."""

    event: Event
    offset: int
    key: bytes | None
    raw: bytes | None


class Interaction(msgspec.Struct, gc=False):
    """State of one contact. ``seen`` holds every accepted event id (de-duplication);
    ``unapplied`` counts its accepted events not applied yet (they wait in the partition's
    reorder buffer), so that its state is not purged under them.

    Memory per interaction is the budget (a million may be open): ids in a tuple, and no list at
    all for the (usually absent) held events. ``closed_ts`` is the closing time; for a state
    that only ``feedback`` events made (never opened here), the time of its latest survey,
    which decides how long the state is kept (``monitor.stages.interactions.expiry.Retention``).
    ``queue`` is the queue it is in (SPEC 9): its channel's default until it opens, then the
    one it opened in, then wherever ``transferred`` moves it."""

    queue: Queue
    opened_ts: int | None = None
    flags: int = 0
    closed: int = OPEN
    closed_ts: int = 0
    seen: tuple[str, ...] = ()
    unapplied: int = 0
    held: list[Pending] | tuple[()] = ()

    @property
    def channel(self) -> str:
        """The channel it was opened on (or, not opened yet, of its first event)."""
        return self.queue.channel

    @property
    def responded(self) -> bool:
        return bool(self.flags & _RESPONDED_BIT)

    @property
    def abandoned(self) -> bool:
        return bool(self.flags & _ABANDONED_BIT)

    @property
    def is_open(self) -> bool:
        """Counted in ``backlog_open``: opened and not closed."""
        return self.opened_ts is not None and self.closed == OPEN

    @property
    def is_waiting(self) -> bool:
        """Counted in ``backlog_waiting``: open, no first response, not abandoned."""
        return self.is_open and not self.flags

    def apply(self, e: Event, reopen_window_ms: int) -> Applied:
        """Apply an event of an opened interaction (or its ``opened``): the transition of
        ``TRANSITIONS`` for its type, once the event is known not to precede the opening."""
        if e.type == OPENED:
            return self._open(e)
        opened = self.opened_ts
        assert opened is not None, "held events are applied only after opened"
        since_open = e.ts_ms - opened
        if since_open < 0:
            return Rejection("invalid_transition", f"{e.type} is {-since_open} ms before opened")
        return TRANSITIONS[e.type](self, e, since_open, reopen_window_ms)

    def _open(self, e: Event) -> Measurement | Rejection:
        if self.opened_ts is not None:
            return Rejection("invalid_transition", "interaction already opened")
        assert e.queue is not None, "an opened event always has its queue"
        self.opened_ts = e.ts_ms
        self.queue = e.queue  # the channel and queue it was opened on
        return Measurement("opened", e.ts_ms)

    def _respond(self, e: Event, since_open: int, _reopen_window_ms: int) -> Applied:
        if self.abandoned:
            return Rejection("invalid_transition", "responded after abandoned")
        if self.responded or self.closed != OPEN:
            return None  # a later response, not a first one
        self.flags |= _RESPONDED_BIT
        return Measurement("answered", e.ts_ms, since_open)

    def _abandon(self, e: Event, since_open: int, _reopen_window_ms: int) -> Applied:
        if self.closed != OPEN:
            return Rejection("invalid_transition", "abandoned after the interaction was closed")
        if self.flags:
            what = "a first response" if self.responded else "an earlier abandon"
            return Rejection("invalid_transition", f"abandoned after {what}")
        self.flags |= _ABANDONED_BIT
        return Measurement("abandoned", e.ts_ms, since_open)

    def _close(self, e: Event, since_open: int, _reopen_window_ms: int) -> Applied:
        if self.closed != OPEN:
            return Rejection("invalid_transition", f"{e.type} but the interaction is closed")
        self.closed = CLOSED_RESOLVED if e.type == RESOLVED else CLOSED_FAILED
        self.closed_ts = e.ts_ms
        return Measurement(e.type, e.ts_ms, since_open)

    def _reopen(self, e: Event, _since_open: int, reopen_window_ms: int) -> Applied:
        if self.closed != CLOSED_RESOLVED:
            state = "open" if self.closed == OPEN else "failed"
            return Rejection("invalid_transition", f"reopened but the interaction is {state}")
        after_ms = e.ts_ms - self.closed_ts
        if after_ms > reopen_window_ms:
            return Rejection(
                "invalid_transition",
                f"reopened {after_ms // 1000} s after resolution, window {reopen_window_ms // 1000} s",
            )
        if after_ms < 0:
            return Rejection("invalid_transition", "reopened before it was resolved")
        self.closed = OPEN
        return Measurement("reopened", e.ts_ms)

    def _transfer(self, e: Event, _since_open: int, _reopen_window_ms: int) -> Applied:
        """Move to another queue while waiting or open: what completes it from now on is
        measured there (SPEC 9). Nothing is measured by the move itself."""
        if self.closed != OPEN:
            return Rejection("invalid_transition", "transferred after the interaction was closed")
        to = e.queue
        assert to is not None, "a transferred event always has its queue"
        if to.channel != self.queue.channel:
            return Rejection("invalid_transition", f"transferred to channel {to.channel!r}, but "
                             f"the interaction is on {self.queue.channel!r}")
        self.queue = to
        return None

    def hold(self, pend: Pending) -> None:
        """Keep an event until the interaction's ``opened`` arrives."""
        if isinstance(self.held, list) and self.held:
            self.held.append(pend)
        else:
            self.held = [pend]


#: What an applied event yields: its measurement, None (accepted, measures nothing) or why not.
Applied = Measurement | Rejection | None

#: The lifecycle after ``opened``, per event type: (state, event, ms since opened, reopen window).
TRANSITIONS: dict[str, Callable[[Interaction, Event, int, int], Applied]] = {
    RESPONDED: Interaction._respond,
    ABANDONED: Interaction._abandon,
    RESOLVED: Interaction._close,
    FAILED: Interaction._close,
    REOPENED: Interaction._reopen,
    TRANSFERRED: Interaction._transfer,
}
