"""How scheduled events reach the topic: in due order, numbered, with a real topic's noise.

``TrafficModel`` decides what happens; the ``Emitter`` holds the events until they are due (at
their event time, or up to ``disorder_ms`` later), builds each event object only then (many
closings lie beyond the run), and adds the duplicates and garbage of ``duplicate_ratio`` and
``garbage_ratio`` right after the event that triggered them.

Event ids are ``e-<tag>-<n>``, ``n`` counting the events in the order they were scheduled;
transfers count their own ``e-<tag>-t<n>`` and draw their delay from the caller's generator,
so declaring queues renumbers and delays no other event.
"""

from __future__ import annotations

import copy
import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from monitor.domain.stream.events import TRANSFERRED
from monitor.sim.garbage import garbage
from monitor.sim.records import Item, format_ts

RECENT_FOR_DUPLICATES: Final = 1024


class Pending(NamedTuple):
    """One scheduled event, before it is due."""

    interaction_id: str
    channel: str
    type: str
    as_epoch: bool
    queue: str | None  # attrs.queue (None: a channel with declared queues)
    segment: str
    agent: str | None
    feedback: dict[str, Any] | None = None
    routed: str | None = None  # the top-level queue of an opened or transferred


#: (emit ms, schedule order, event time ms, event number, event)
_Entry = tuple[int, int, int, int, Pending]


@dataclass(slots=True)
class Stats:
    interactions: int = 0
    events: int = 0
    duplicates: int = 0
    garbage: int = 0
    transfers: int = 0  # among the events

    @property
    def items(self) -> int:
        return self.events + self.duplicates + self.garbage


class Emitter:
    """The events scheduled but not yet handed out, and the noise added when they are."""

    def __init__(self, seed: int, tag: str, pick_channel: Callable[[random.Random], str], *,
                 duplicate_ratio: float, disorder_ms: int, garbage_ratio: float) -> None:
        self.tag = tag
        self.stats = Stats()
        self.duplicate_ratio = duplicate_ratio
        self.disorder_ms = disorder_ms
        self.garbage_ratio = garbage_ratio
        self._pick_channel = pick_channel
        self._noise = random.Random(seed * 1_000_003 + 7)  # duplicates and garbage, in emit order
        self._jitter = random.Random(seed * 1_000_033 + 11)  # disorder: same events, reordered
        self._seq = 0
        self._n_event = 0
        self._n_transfer = 0
        self._n_garbage = 0
        self._heap: list[_Entry] = []
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_FOR_DUPLICATES)

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, at_ms: int, last_ms: int, pending: Pending,
             jitter: random.Random | None = None) -> int:
        """Schedule one event of a contact at ``at_ms``, strictly after the contact's previous
        one at ``last_ms``; returns its event time. ``jitter``: where its delay comes from (a
        transfer's: the routing generator)."""
        ts_ms = max(at_ms, last_ms + 1)
        delay = jitter or self._jitter
        emit_ms = ts_ms + (delay.randint(0, self.disorder_ms) if self.disorder_ms else 0)
        if pending.type == TRANSFERRED:
            n = self._n_transfer
            self._n_transfer += 1
        else:
            n = self._n_event
            self._n_event += 1
        heapq.heappush(self._heap, (emit_ms, self._seq, ts_ms, n, pending))
        self._seq += 1
        return ts_ms

    def due(self, now_ms: int, out: list[Item]) -> None:
        """Append every item due at or before ``now_ms`` to ``out``, in emission order."""
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            self._emit(heapq.heappop(heap), out)

    def drain(self, end_ms: int, out: list[Item]) -> None:
        """Append whatever has event time <= ``end_ms`` and is still held back by disorder."""
        due = [entry for entry in self._heap if entry[2] <= end_ms]
        if due:
            self._heap = [entry for entry in self._heap if entry[2] > end_ms]
            heapq.heapify(self._heap)
            for entry in sorted(due):
                self._emit(entry, out)

    def _emit(self, entry: _Entry, out: list[Item]) -> None:
        emit_ms, _, ts_ms, n, p = entry
        attrs: dict[str, Any] = ({"segment": p.segment} if p.queue is None
                                 else {"queue": p.queue, "segment": p.segment})
        if p.agent is not None:
            attrs["agent"] = p.agent
        number = f"t{n}" if p.type == TRANSFERRED else n
        event: dict[str, Any] = {
            "event_id": f"e-{self.tag}-{number}",
            "interaction_id": p.interaction_id,
            "channel": p.channel,
            "type": p.type,
            "ts": ts_ms if p.as_epoch else format_ts(ts_ms),
        }
        if p.routed is not None:
            event["queue"] = p.routed
            self.stats.transfers += p.type == TRANSFERRED
        if p.feedback is not None:
            event["feedback"] = p.feedback
        event["attrs"] = attrs
        out.append(event)
        self.stats.events += 1
        self._recent.append(event)
        noise = self._noise
        if self.duplicate_ratio and noise.random() < self.duplicate_ratio:
            original = noise.choice(self._recent)
            out.append(_copy(original))
            self.stats.duplicates += 1
        if self.garbage_ratio and noise.random() < self.garbage_ratio:
            channel = self._pick_channel(noise)
            out.append(garbage(noise, self.tag, self._n_garbage, emit_ms, channel))
            self._n_garbage += 1
            self.stats.garbage += 1


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    """An independent copy of an emitted event (a duplicate shares no mutable part with it)."""
    out = {**event, "attrs": dict(event["attrs"])}
    if "feedback" in event:
        out["feedback"] = copy.deepcopy(event["feedback"])
    return out
