"""The real-time backlog of one input partition, per queue, and its window-end snapshots.

``backlog_waiting``, ``backlog_open`` and the oldest waiting ``opened`` follow every applied
event, in the queue the interaction is in (a transfer moves it). At each window end (in event
time) the backlog is recorded into that window's partial of each queue, so records carry the
state at ``window_end`` and replays give the same records.
"""

from __future__ import annotations

from collections import Counter

from monitor.domain.stream.lifecycle import Interaction
from monitor.domain.stream.mincount import MinCount
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.domain.stream.window import WindowAcc


class Backlog:
    def __init__(self, queues: dict[str, ChannelQueues], window_ms: int) -> None:
        self.queues: tuple[Queue, ...] = tuple(q for cq in queues.values() for q in cq.queues)
        self.window_ms = window_ms
        self.waiting: Counter[Queue] = Counter()
        self.open: Counter[Queue] = Counter()
        self.waiting_since: dict[Queue, MinCount] = {q: MinCount() for q in self.queues}
        #: the next window whose end has not been recorded (None: no event applied yet)
        self.next_w: int | None = None

    def oldest_waiting_ts(self, queue: Queue) -> int | None:
        return self.waiting_since[queue].min()

    def track(self, before: Queue, s: Interaction, was_open: bool, was_waiting: bool) -> None:
        """Keep the counts in step with one interaction's change; ``before``: its queue before
        the change (a transfer moves it to ``s.queue``)."""
        is_open, is_waiting = s.is_open, s.is_waiting
        q = s.queue
        if q is before:
            if is_open != was_open:
                self.open[q] += 1 if is_open else -1
            if is_waiting != was_waiting:
                assert s.opened_ts is not None
                if is_waiting:
                    self.waiting[q] += 1
                    self.waiting_since[q].add(s.opened_ts)
                else:
                    self.waiting[q] -= 1
                    self.waiting_since[q].remove(s.opened_ts)
            return
        if was_open:
            self.open[before] -= 1
        if is_open:
            self.open[q] += 1
        opened = s.opened_ts
        if was_waiting:
            assert opened is not None
            self.waiting[before] -= 1
            self.waiting_since[before].remove(opened)
        if is_waiting:
            assert opened is not None
            self.waiting[q] += 1
            self.waiting_since[q].add(opened)

    def record_until(self, ts_ms: int, partials: dict[tuple[Queue, int], WindowAcc]) -> bool:
        """Record the backlog as of each window end at or before ``ts_ms`` not yet recorded
        into ``partials``; True if any was."""
        w = self.next_w
        if w is None:
            return False
        window_ms = self.window_ms
        while w + window_ms <= ts_ms:
            for q in self.queues:
                if self.open[q] or self.waiting[q]:
                    key = (q, w)
                    acc = partials.get(key)
                    if acc is None:
                        acc = partials[key] = WindowAcc()
                    acc.add_snapshot(self.waiting[q], self.open[q], self.waiting_since[q].min())
            w += window_ms
        if w == self.next_w:
            return False
        self.next_w = w
        return True
