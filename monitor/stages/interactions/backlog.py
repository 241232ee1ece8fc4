"""The real-time backlog of one input partition, per channel, and its window-end snapshots.

``backlog_waiting``, ``backlog_open`` and the oldest waiting ``opened`` follow every applied
event. At each window end (in event time) the backlog is recorded into that window's partial,
so records carry the state at ``window_end`` and replays give the same records.
"""

from __future__ import annotations

from collections import Counter

from monitor.domain.stream.lifecycle import Interaction
from monitor.domain.stream.mincount import MinCount
from monitor.domain.stream.window import WindowAcc


class Backlog:
    def __init__(self, channels: tuple[str, ...], window_ms: int) -> None:
        self.channels = channels
        self.window_ms = window_ms
        self.waiting: Counter[str] = Counter()
        self.open: Counter[str] = Counter()
        self.waiting_since: dict[str, MinCount] = {c: MinCount() for c in channels}
        #: the next window whose end has not been recorded (None: no event applied yet)
        self.next_w: int | None = None

    def oldest_waiting_ts(self, channel: str) -> int | None:
        return self.waiting_since[channel].min()

    def track(self, ch: str, s: Interaction, was_open: bool, was_waiting: bool) -> None:
        """Keep the counts in step with one interaction's change."""
        is_open, is_waiting = s.is_open, s.is_waiting
        if is_open != was_open:
            self.open[ch] += 1 if is_open else -1
        if is_waiting != was_waiting:
            assert s.opened_ts is not None
            if is_waiting:
                self.waiting[ch] += 1
                self.waiting_since[ch].add(s.opened_ts)
            else:
                self.waiting[ch] -= 1
                self.waiting_since[ch].remove(s.opened_ts)

    def record_until(self, ts_ms: int, partials: dict[tuple[str, int], WindowAcc]) -> bool:
        """Record the backlog as of each window end at or before ``ts_ms`` not yet recorded
        into ``partials``; True if any was."""
        w = self.next_w
        if w is None:
            return False
        window_ms = self.window_ms
        while w + window_ms <= ts_ms:
            for ch in self.channels:
                if self.open[ch] or self.waiting[ch]:
                    key = (ch, w)
                    acc = partials.get(key)
                    if acc is None:
                        acc = partials[key] = WindowAcc()
                    acc.add_snapshot(self.waiting[ch], self.open[ch], self.waiting_since[ch].min())
            w += window_ms
        if w == self.next_w:
            return False
        self.next_w = w
        return True
