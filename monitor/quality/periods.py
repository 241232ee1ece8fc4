"""Per-channel period bookkeeping (SPEC 7.2), without Faust: which period a window belongs to,
idempotent merging, and when a period closes.

A period keeps its windows by start, never a running total: the same window read twice (a worker
re-emitting after a crash, this stage re-reading after its own) replaces its entry, so nothing
counts twice, whatever order the copies come in. The worker emits every window of every channel
(empty ones included), in window order, so a period is complete when the record of its last
window arrives; a record of a later period closes whatever is still open before it (a period
whose last record was never seen, or one re-opened by a late copy of a window).

Names: ``period_ms`` and ``window_ms`` are lengths; ``*_start_ms`` are points in time. The
table keys and byte formats are in ``monitor.state.periods``.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.domain.quality.index import Sums
from monitor.state.periods import PeriodAcc


def period_start(window_start_ms: int, period_ms: int) -> int:
    """The start of the period a window belongs to. Periods are tumbling and aligned to the
    epoch, like windows."""
    return window_start_ms - window_start_ms % period_ms


def is_last_window(window_start_ms: int, window_ms: int, period_ms: int) -> bool:
    """Whether this window ends its period (window_start + window == period_end)."""
    return (window_start_ms + window_ms) % period_ms == 0


def merge(acc: PeriodAcc | None, window_start_ms: int, sums: Sums) -> PeriodAcc:
    """``acc`` with this window's sums; a window already there is replaced, not added to."""
    out = PeriodAcc(dict(acc.windows) if acc is not None else {})
    out.windows[window_start_ms] = sums
    return out


def closing(open_period_starts: Iterable[int], record_period_start_ms: int,
            last_window: bool) -> list[int]:
    """The starts of the periods a record closes, oldest first: every open one before its own
    period, and its own when it is the period's last window."""
    out = sorted(p for p in set(open_period_starts) if p < record_period_start_ms)
    if last_window:
        out.append(record_period_start_ms)
    return out


def total(windows: dict[int, Sums]) -> Sums:
    """The period's sums: its windows added up (integers, so the order does not matter)."""
    out = Sums()
    for w in sorted(windows):
        out.add(windows[w])
    return out
