"""The reorder buffer: accepted events waiting until the watermark lets them be applied.

Events leave in order of their sort key, always as every event below a frontier. So the buffer
holds sorted *runs*, one per batch that added events, each with a read position. Taking events
out is a bisect per run and a slice; adding is one sort of the batch's events. Runs are merged
when the newest is at least half the size of the one before it, so there are O(log n) of them
and each event is merged O(log n) times, all in C (``list.sort`` merges two sorted runs in
linear time). A binary heap did the same with two Python-level calls and O(log n) tuple
comparisons per event, which cost the hot path about a fifth of its time. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

#: runs whose read position passed this many entries, and half their length, are compacted
_COMPACT_AT = 1024
_ts_ms = attrgetter("ts_ms")


class ReorderBuffer:
    """Totally ordered entries (no two equal) with an int event time ``ts_ms`` that sorts
    first, waiting to be taken out below a frontier."""

    __slots__ = ("_runs", "_size", "_starts")

    def __init__(self) -> None:
        self._runs: list[list[Any]] = []
        self._starts: list[int] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def run_sizes(self) -> list[tuple[int, int]]:
        """Per run: entries kept in memory and entries still waiting (what bounds its memory)."""
        return [(len(run), len(run) - start) for run, start in zip(self._runs, self._starts,
                                                                      strict=True)]

    def __iter__(self) -> Iterator[Any]:
        """Every entry, not in order (for snapshots)."""
        for run, start in zip(self._runs, self._starts, strict=True):
            yield from run[start:]

    def add(self, items: list[Any], presorted: bool = False) -> None:
        """Add entries (in any order unless ``presorted``; ``items`` itself is kept and sorted
        in place)."""
        if not items:
            return
        if not presorted:
            items.sort()
        runs, starts = self._runs, self._starts
        runs.append(items)
        starts.append(0)
        self._size += len(items)
        # keep sizes falling geometrically from the oldest run to the newest
        while len(runs) > 1 and len(runs[-2]) - starts[-2] <= 2 * (len(runs[-1]) - starts[-1]):
            newer = runs.pop()
            s_newer = starts.pop()
            merged = runs[-1][starts[-1]:] if starts[-1] else runs[-1]
            merged += newer[s_newer:] if s_newer else newer
            merged.sort()  # two sorted runs: a linear merge
            runs[-1] = merged
            starts[-1] = 0

    def take_before(self, frontier: int) -> list[Any]:
        """Remove and return every entry whose event time is below ``frontier`` (unsorted
        across runs: the caller sorts what it takes with what else is ready)."""
        out: list[Any] = []
        if not self._size:
            return out
        runs, starts = self._runs, self._starts
        emptied = False
        for i, run in enumerate(runs):
            start = starts[i]
            if run[start].ts_ms >= frontier:
                continue
            end = bisect_left(run, frontier, start, key=_ts_ms)
            out += run[start:end]
            if end == len(run):
                emptied = True
                starts[i] = end
            elif end > _COMPACT_AT and end * 2 > len(run):
                runs[i] = run[end:]
                starts[i] = 0
            else:
                starts[i] = end
        if emptied:
            keep = [i for i, run in enumerate(runs) if starts[i] < len(run)]
            self._runs = [runs[i] for i in keep]
            self._starts = [starts[i] for i in keep]
        self._size -= len(out)
        return out
