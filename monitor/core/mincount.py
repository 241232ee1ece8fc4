"""A multiset of integers with O(log n) minimum, for the oldest waiting contact per channel."""

from __future__ import annotations

import heapq


class MinCount:
    """Counts per value with a lazily cleaned heap for the minimum."""

    __slots__ = ("_counts", "_heap", "size")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._heap: list[int] = []
        self.size = 0

    def add(self, value: int) -> None:
        n = self._counts.get(value, 0)
        if n == 0:
            heapq.heappush(self._heap, value)
        self._counts[value] = n + 1
        self.size += 1

    def remove(self, value: int) -> None:
        n = self._counts[value]
        if n == 1:
            del self._counts[value]
        else:
            self._counts[value] = n - 1
        self.size -= 1

    def min(self) -> int | None:
        heap = self._heap
        while heap and heap[0] not in self._counts:
            heapq.heappop(heap)
        return heap[0] if heap else None
