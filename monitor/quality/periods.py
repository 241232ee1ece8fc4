"""Per-channel period bookkeeping (SPEC 7.2), without Faust: which period a window belongs to,
idempotent merging, and when a period closes.

A period keeps its windows by start, never a running total: the same window read twice (a worker
re-emitting after a crash, this stage re-reading after its own) replaces its entry, so nothing
counts twice, whatever order the copies come in. The worker emits every window of every channel
(empty ones included), in window order, so a period is complete when the record of its last
window arrives; a record of a later period closes whatever is still open before it (a period
whose last record was never seen, or one re-opened by a late copy of a window).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from monitor.domain.quality.index import Sums

_SEP = "/"


class PeriodAcc(msgspec.Struct, gc=False):
    """The windows of one channel seen so far in one period, by window start (ms)."""

    windows: dict[int, Sums] = msgspec.field(default_factory=dict)


class Closure(msgspec.Struct, frozen=True, gc=False):
    """A closed channel-period on its way to the cross-channel step. It carries the windows, not
    their total, so the next step can merge copies per window as well."""

    channel: str
    period_start_ms: int
    windows: dict[int, Sums]


def period_start(window_start_ms: int, period_ms: int) -> int:
    """Periods are tumbling and aligned to the epoch, like windows."""
    return window_start_ms - window_start_ms % period_ms


def is_last_window(window_start_ms: int, window_ms: int, period_ms: int) -> bool:
    """Whether this window ends its period (window_start + window == period_end)."""
    return (window_start_ms + window_ms) % period_ms == 0


def merge(acc: PeriodAcc | None, window_start_ms: int, sums: Sums) -> PeriodAcc:
    """``acc`` with this window's sums; a window already there is replaced, not added to."""
    out = PeriodAcc(dict(acc.windows) if acc is not None else {})
    out.windows[window_start_ms] = sums
    return out


def closing(open_periods: Iterable[int], record_period_ms: int, last_window: bool) -> list[int]:
    """The periods a record closes, oldest first: every open one before its own period, and its
    own when it is the period's last window."""
    out = sorted(p for p in set(open_periods) if p < record_period_ms)
    if last_window:
        out.append(record_period_ms)
    return out


def total(windows: dict[int, Sums]) -> Sums:
    """The period's sums: its windows added up (integers, so the order does not matter)."""
    out = Sums()
    for w in sorted(windows):
        out.add(windows[w])
    return out


def key(channel: str, period_ms: int) -> str:
    """The table key of a channel-period (channel names never contain ``/``)."""
    return f"{channel}{_SEP}{period_ms}"


def open_periods(keys: Iterable[str], channel: str) -> list[int]:
    """The periods of ``channel`` among the table's keys."""
    prefix = channel + _SEP
    return sorted(int(k[len(prefix):]) for k in keys if k.startswith(prefix))


_ACC_DECODER = msgspec.json.Decoder(PeriodAcc)
_CLOSURE_DECODER = msgspec.json.Decoder(Closure)


def encode(obj: PeriodAcc | Closure) -> bytes:
    return msgspec.json.encode(obj)


def decode_acc(raw: bytes) -> PeriodAcc:
    return _ACC_DECODER.decode(raw)


def decode_closure(raw: bytes) -> Closure:
    return _CLOSURE_DECODER.decode(raw)
