"""Per-(queue, window) accumulator: the unit that is combined, repartitioned and finalised.

Everything in it merges associatively, so partial accumulators from any batch, partition or
worker add up to the same window regardless of how the input was split, and a channel's
window is the merge of its queues' (SPEC 9: the exact roll-up).
"""

from __future__ import annotations

import msgspec

from monitor.domain.stream.queues import Queue
from monitor.domain.stream.sketch import Sketch

COUNT_FIELDS: tuple[str, ...] = (
    "opened", "answered", "answered_within_target", "abandoned", "short_abandoned",
    "resolved", "resolved_within_target", "failed", "reopened",
)


def window_start(ts_ms: int, window_ms: int) -> int:
    """Start of the epoch-aligned tumbling window containing ``ts_ms``."""
    return ts_ms - ts_ms % window_ms


class WindowAcc:
    """Counts, wait and resolution sketches, end-of-window backlog snapshots and the window's
    survey sums (``monitor.domain.stream.feedback``; None until a survey comes, so windows without
    feedback cost nothing more to merge or log).

    ``measured`` counts the events that contributed a measurement (for late accounting).
    The snapshot fields sum over input partitions: each partition contributes its backlog state
    as of the window end exactly once (``snap_parts`` counts the contributions).
    """

    __slots__ = ("counts", "feedback", "first_response", "measured", "resolution",
                 "snap_min_waiting_ts", "snap_open", "snap_parts", "snap_waiting")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * len(COUNT_FIELDS)
        self.first_response = Sketch()
        self.resolution = Sketch()
        self.measured = 0
        self.snap_waiting = 0
        self.snap_open = 0
        self.snap_min_waiting_ts: int | None = None
        self.snap_parts = 0
        self.feedback: list[int] | None = None

    def count(self, name: str) -> int:
        return self.counts[COUNT_FIELDS.index(name)]

    def add_snapshot(self, waiting: int, open_: int, min_waiting_ts: int | None) -> None:
        self.snap_waiting += waiting
        self.snap_open += open_
        self.snap_parts += 1
        if min_waiting_ts is not None and (
            self.snap_min_waiting_ts is None or min_waiting_ts < self.snap_min_waiting_ts
        ):
            self.snap_min_waiting_ts = min_waiting_ts

    def merge(self, other: WindowAcc) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.first_response.merge(other.first_response)
        self.resolution.merge(other.resolution)
        self.measured += other.measured
        if other.feedback is not None:
            mine = self.feedback
            self.feedback = list(other.feedback) if mine is None else [
                a + b for a, b in zip(mine, other.feedback, strict=True)]
        if other.snap_parts:
            self.snap_waiting += other.snap_waiting
            self.snap_open += other.snap_open
            self.snap_parts += other.snap_parts
            o = other.snap_min_waiting_ts
            if o is not None and (self.snap_min_waiting_ts is None or o < self.snap_min_waiting_ts):
                self.snap_min_waiting_ts = o


def rollup(accs: list[WindowAcc]) -> WindowAcc:
    """A fresh accumulator holding the merge of ``accs`` (which are left as they are)."""
    out = WindowAcc()
    for acc in accs:
        out.merge(acc)
    return out


class Partial(msgspec.Struct, frozen=True, gc=False):
    """One input partition's accumulator of one (queue, window), on its way to stage two."""

    src: int
    queue: Queue
    window_start_ms: int
    acc: WindowAcc

    @property
    def channel(self) -> str:
        return self.queue.channel
