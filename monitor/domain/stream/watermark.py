"""Every rule of event-time progress (SPEC section 2) in one place: watermarks, idleness, the
reorder frontier, the backfill guard and window finality.

Stage one keeps one watermark per input partition and reports it in a ``Mark``; stage two
takes the minimum over all input partitions (``global_watermark``) and finalises the windows it
passes. All times are epoch milliseconds; the wall clock comes in as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from monitor.domain.stream.window import window_start

#: An idle partition's watermark follows the clock: it is reported once a second, not per batch.
IDLE_MARK_STEP_MS = 1000


class Mark(msgspec.Struct, frozen=True, gc=False):
    """What input partition ``src`` reports after a batch: its watermark (None: it never
    delivered an event), the earliest event time it applied, and whether it counted as idle."""

    src: int
    watermark_ms: int | None
    first_ts_ms: int | None
    idle: bool = False


def idle_due(now_ms: int, last_record_wall_ms: int, idle_timeout_ms: int) -> bool:
    """No record for ``idle_timeout``. The partition is idle only if it has also been read up
    to its end: a partition with a backlog is never idle (the adapter checks that part)."""
    return now_ms - last_record_wall_ms >= idle_timeout_ms


def partition_watermark(max_ts_ms: int | None, now_ms: int, idle: bool, grace_ms: int) -> int | None:
    """The largest event time seen; an idle partition counts as at least ``now - grace``."""
    if max_ts_ms is None:
        return None
    if idle:
        return max(max_ts_ms, now_ms - grace_ms)
    return max_ts_ms


def apply_frontier(watermark_ms: int, reorder_ms: int) -> int:
    """Events with a time below this are applied; later ones wait in the reorder buffer.
    Every event with ``ts <= watermark - reorder`` is applied, and ``reorder <= grace`` keeps
    every event of a window applied before stage two may call it final. A window's backlog is
    recorded once its end is strictly before the frontier, the same instant."""
    return watermark_ms - reorder_ms + 1


def worth_sending(mark: Mark, last: Mark | None) -> bool:
    """A changed mark is sent, except one that only moves an idle watermark by under a second."""
    if mark == last:
        return False
    if last is None or not (mark.idle and last.idle) or mark.first_ts_ms != last.first_ts_ms:
        return True
    if mark.watermark_ms is None or last.watermark_ms is None:
        return not (mark.watermark_ms is None and last.watermark_ms is None)
    return not 0 <= mark.watermark_ms - last.watermark_ms < IDLE_MARK_STEP_MS


def global_watermark(
    marks: Mapping[int, Mark], sources: int, now_ms: int | None, grace_ms: int,
    idle_timeout_ms: int,
) -> int | None:
    """Minimum watermark over the input partitions with events, once every partition reported.

    A partition that never delivered an event is left out only while the input is drained
    (every partition idle) or live (every busy partition within ``grace + idle_timeout`` of
    ``now_ms``). During a backfill it holds the watermark instead: otherwise the first
    partition to deliver history would finalise windows the others have not delivered yet.
    """
    if len(marks) < sources:
        return None
    wms = [m.watermark_ms for m in marks.values() if m.watermark_ms is not None]
    if not wms:
        return None
    if len(wms) < len(marks):
        busy = [m.watermark_ms for m in marks.values() if m.watermark_ms is not None and not m.idle]
        live_ms = grace_ms + idle_timeout_ms
        live = now_ms is not None and all(wm >= now_ms - live_ms for wm in busy)
        if busy and not live:
            return None
    return min(wms)


def first_window(marks: Mapping[int, Mark], window_ms: int, grace_ms: int) -> int | None:
    """The first window to emit: that of the earliest event any partition applied. A partition
    with events but none applied yet will apply nothing older than its watermark minus the
    grace: that bound keeps the first window from being fixed early."""
    bounds = [
        m.first_ts_ms if m.first_ts_ms is not None else m.watermark_ms - grace_ms
        for m in marks.values() if m.watermark_ms is not None
    ]
    return window_start(min(bounds), window_ms) if bounds else None


def is_final(window_start_ms: int, window_ms: int, grace_ms: int, watermark_ms: int) -> bool:
    """A window is final once the watermark passes ``window_end + grace``."""
    return window_start_ms + window_ms + grace_ms < watermark_ms
