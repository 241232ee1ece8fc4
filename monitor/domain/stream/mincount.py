"""A multiset of integers with O(log n) minimum, for the oldest waiting contact per channel.

Memory matters here (one entry per waiting interaction): the heap holds the very int objects
the interactions hold, and removals are remembered only until they reach the top of the heap
or a compaction (when removed entries outnumber live ones) drops them.
"""

from __future__ import annotations

import heapq


class MinCount:
    """``add``, ``remove`` and ``min`` over a multiset of ints."""

    __slots__ = ("_heap", "_removed", "size")

    def __init__(self) -> None:
        self._heap: list[int] = []
        self._removed: dict[int, int] = {}
        self.size = 0

    def add(self, value: int) -> None:
        heapq.heappush(self._heap, value)
        self.size += 1

    def remove(self, value: int) -> None:
        """Remove one occurrence of ``value``, which must be present."""
        self._removed[value] = self._removed.get(value, 0) + 1
        self.size -= 1
        if len(self._heap) > 2 * self.size + 64:
            self._compact()

    @property
    def stored(self) -> int:
        """Entries the heap keeps: the live ones and removed ones not dropped yet."""
        return len(self._heap)

    def min(self) -> int | None:
        heap, removed = self._heap, self._removed
        while heap:
            top = heap[0]
            n = removed.get(top)
            if not n:
                return top
            heapq.heappop(heap)
            if n == 1:
                del removed[top]
            else:
                removed[top] = n - 1
        return None

    def _compact(self) -> None:
        removed = self._removed
        kept: list[int] = []
        for v in self._heap:
            n = removed.get(v)
            if n:
                if n == 1:
                    del removed[v]
                else:
                    removed[v] = n - 1
            else:
                kept.append(v)
        heapq.heapify(kept)
        self._heap = kept
