"""What stage one lets go of as the frontier passes: orphans and closed interactions.

Both run on event time (the apply frontier), so replays expire the same things.
"""

from __future__ import annotations

import heapq

from monitor.domain.stream.lifecycle import OPEN, Interaction, Pending


class Orphans:
    """Events held for an ``opened`` that has not come, until ``orphan_timeout`` passes."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._heap: list[tuple[int, str]] = []  # (expires at frontier ms, interaction id)

    def watch(self, iid: str, ts_ms: int) -> None:
        heapq.heappush(self._heap, (ts_ms + self.timeout_ms, iid))

    def expire(self, frontier: int, states: dict[str, Interaction]) -> tuple[list[Pending], bool]:
        """The held events whose time is up (each becomes an ``orphan`` dead letter), and
        whether any state changed. A state left with nothing is dropped."""
        heap, timeout = self._heap, self.timeout_ms
        expired: list[Pending] = []
        changed = False
        while heap and heap[0][0] <= frontier:
            _, iid = heapq.heappop(heap)
            s = states.get(iid)
            if s is None or s.opened_ts is not None or not s.held:
                continue
            keep: list[Pending] = []
            for h in s.held:
                (expired if h.event.ts_ms + timeout <= frontier else keep).append(h)
            s.held = keep or ()
            changed = True
            if not s.held and not s.unapplied and not s.closed_ts:  # closed_ts: kept for surveys
                del states[iid]
        return expired, changed


class Retention:
    """A closed interaction's state is kept for ``reopen_window`` (a reopen or a duplicate may
    still come), then dropped; so is one never opened here that surveys made, after its latest
    survey (``closed_ts`` holds that survey's time until an ``opened`` comes)."""

    def __init__(self, reopen_window_ms: int) -> None:
        self.window_ms = reopen_window_ms
        self._heap: list[tuple[int, str]] = []  # (expires at frontier ms, interaction id)

    def watch(self, iid: str, closed_ts_ms: int) -> None:
        heapq.heappush(self._heap, (closed_ts_ms + self.window_ms, iid))

    def expire(self, frontier: int, states: dict[str, Interaction]) -> bool:
        """Drop the states closed for longer than the window; True if any was."""
        heap, window = self._heap, self.window_ms
        deferred: list[tuple[int, str]] = []
        changed = False
        while heap and heap[0][0] < frontier:
            entry = heapq.heappop(heap)
            iid = entry[1]
            s = states.get(iid)
            if s is None or s.closed_ts + window >= frontier or (
                    s.closed == OPEN and s.opened_ts is not None):
                continue
            if s.unapplied or s.held:  # an event still waits to be applied: look again next time
                deferred.append(entry)
                continue
            del states[iid]
            changed = True
        for entry in deferred:
            heapq.heappush(heap, entry)
        return changed
