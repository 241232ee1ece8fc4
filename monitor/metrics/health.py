"""What ``/healthz`` and ``/readyz`` answer: a heartbeat of the processing loop, and whether the
process owns its partitions with their state restored.

Both are written from the event loop and read from the HTTP server's threads: each write
replaces one attribute, which the reading thread sees whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

#: ``/healthz`` fails once the loop has not stamped for this long. The worker's loop stamps at
#: least every 0.1 s when idle and once per fetched batch when busy; restoring a partition stamps
#: per changelog read. A minute is far above any healthy gap and short enough that a stuck
#: worker is restarted within a few liveness periods.
STALL_S: Final = 60.0

#: ``None``: healthy (or ready); otherwise the reason, a short sentence.
Probe = Callable[[], str | None]


class Heartbeat:
    """The processing loop's last sign of progress (monotonic time). Creation counts as one,
    so a process is live for ``stall_s`` while it starts."""

    def __init__(self, stall_s: float = STALL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def check(self) -> str | None:
        """None while the last beat is recent enough, else how long the loop has been silent."""
        silent = self._clock() - self._last
        if silent > self.stall_s:
            return f"no progress of the processing loop for {silent:.0f} s (limit {self.stall_s:g} s)"
        return None


class Readiness:
    """Not ready until the first assignment is restored; not ready again while a rebalance
    revokes and restores. An empty assignment is ready: a surplus worker is a healthy standby,
    and a rolling update must not wait for partitions it will never get."""

    def __init__(self) -> None:
        self._reason: str | None = "waiting for the first partition assignment"

    def not_ready(self, reason: str) -> None:
        self._reason = reason

    def ready(self) -> None:
        self._reason = None

    def check(self) -> str | None:
        return self._reason
