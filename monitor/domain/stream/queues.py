"""Queues: the dimension below the channel (SPEC section 9), modelled once.

A ``Queue`` is made once per configured queue (``ChannelQueues``) and shared: an event, an
interaction, a partial and a window accumulator hold a reference to it, never its name, so the
hot path looks nothing up by string, and a queue compares and hashes by identity. Its targets
are the queue's (the channel's where the config overrides none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: The queue every undeclared queue of a channel with declared queues is measured under.
OTHER = "other"


@dataclass(frozen=True, slots=True, eq=False)
class Queue:
    """One queue of one channel with the targets that decide its counts (SPEC 2)."""

    channel: str
    name: str
    first_response_target_ms: int
    resolution_target_ms: int
    short_abandon_ms: int

    @property
    def key(self) -> str:
        """``channel/queue``: the record key on ``sqm.queues.v1`` and the alert key's head."""
        return f"{self.channel}/{self.name}"

    def __repr__(self) -> str:
        return f"Queue({self.key})"


@dataclass(frozen=True, slots=True)
class ChannelQueues:
    """The queues of one channel: the declared ones (the default queue among them) and
    ``other``, or the default queue alone when the channel declares none."""

    channel: str
    default: Queue
    #: every queue of the channel, in config order, ``other`` last when there is one
    queues: tuple[Queue, ...]
    #: None when the channel declares no queues: an unknown name then goes to ``default``
    other: Queue | None
    by_name: dict[str, Queue] = field(repr=False)

    @classmethod
    def of(cls, default: Queue, declared: Iterable[Queue]) -> ChannelQueues:
        queues = tuple(declared)
        other: Queue | None = None
        if queues:
            d = default
            other = Queue(d.channel, OTHER, d.first_response_target_ms, d.resolution_target_ms,
                          d.short_abandon_ms)
            default = next(q for q in queues if q.name == default.name)
            queues = (*queues, other)
        else:
            queues = (default,)
        return cls(default.channel, default, queues, other, {q.name: q for q in queues})

    def resolve(self, name: str | None) -> Queue:
        """The queue an event names (None: the default). An undeclared name is measured under
        ``other`` (or the default queue of a channel that declares none); ``"other"`` itself
        names ``other`` only where it exists."""
        if name is None:
            return self.default
        q = self.by_name.get(name)
        if q is not None:
            return q
        return self.default if self.other is None else self.other

    def named(self, name: str | None) -> tuple[Queue, bool]:
        """The queue of an ``opened`` or ``transferred`` and whether the name is undeclared
        (``sqm_events_unlisted_queue_total`` counts those): one dictionary lookup, the parser's
        hot path."""
        if name is None:
            return self.default, False
        q = self.by_name.get(name)
        if q is None:
            return (self.default if self.other is None else self.other), True
        return q, q is self.other

def single_queues(channels: Iterable[str]) -> dict[str, ChannelQueues]:
    """One queue, ``main``, per channel, without targets: for what only parses events."""
    return {ch: ChannelQueues.of(Queue(ch, "main", 0, 0, 0), ()) for ch in channels}
