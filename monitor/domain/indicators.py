"""The indicators of one channel and window (SPEC section 2), computed from its accumulator.

Times stay integer or float milliseconds here; ``monitor.wire.indicators`` writes the record of
``sqm.indicators.v1`` (RFC 3339 bounds, seconds) and the exporter reads these fields directly.
"""

from __future__ import annotations

import msgspec

from monitor.domain.sketch import Summary
from monitor.domain.window import WindowAcc


def ratio(num: int, den: int) -> float | None:
    """``num / den``, or None when the denominator is 0."""
    return num / den if den else None


class Indicators(msgspec.Struct, frozen=True, gc=False):
    """One final window of one channel."""

    channel: str
    window_start_ms: int
    window_end_ms: int
    opened: int
    answered: int
    answered_within_target: int
    abandoned: int
    short_abandoned: int
    service_level: float | None
    abandonment_rate: float | None
    first_response: Summary
    resolved: int
    failed: int
    resolution_rate: float | None
    resolved_within_target: int
    on_time_resolution_rate: float | None
    resolution: Summary
    reopened: int
    reopen_rate: float | None
    backlog_waiting: int
    backlog_open: int
    #: window end minus the oldest waiting ``opened`` at window end; None when none was waiting
    oldest_wait_ms: int | None


def indicators(channel: str, start_ms: int, window_ms: int, acc: WindowAcc) -> Indicators:
    """The indicators of one channel and window; ``acc`` holds its combined measurements."""
    c = acc.count
    answered, abandoned = c("answered"), c("abandoned")
    resolved, failed = c("resolved"), c("failed")
    end_ms = start_ms + window_ms
    oldest = acc.snap_min_waiting_ts
    return Indicators(
        channel=channel,
        window_start_ms=start_ms,
        window_end_ms=end_ms,
        opened=c("opened"),
        answered=answered,
        answered_within_target=c("answered_within_target"),
        abandoned=abandoned,
        short_abandoned=c("short_abandoned"),
        service_level=ratio(c("answered_within_target"), answered + abandoned),
        abandonment_rate=ratio(abandoned, answered + abandoned),
        first_response=acc.first_response.summary(),
        resolved=resolved,
        failed=failed,
        resolution_rate=ratio(resolved, resolved + failed),
        resolved_within_target=c("resolved_within_target"),
        on_time_resolution_rate=ratio(c("resolved_within_target"), resolved),
        resolution=acc.resolution.summary(),
        reopened=c("reopened"),
        reopen_rate=ratio(c("reopened"), resolved),
        backlog_waiting=acc.snap_waiting,
        backlog_open=acc.snap_open,
        oldest_wait_ms=None if oldest is None else max(0, end_ms - oldest),
    )
