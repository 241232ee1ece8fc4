"""Indicator records of ``sqm.indicators.v1`` from a finalised window (SPEC section 2)."""

from __future__ import annotations

from typing import Any

from monitor.core.timefmt import format_utc_s
from monitor.core.window import WindowAcc

SCHEMA = "sqm.indicators.v1"


def ratio(num: int, den: int) -> float | None:
    """``num / den``, or None when the denominator is 0."""
    return num / den if den else None


def indicator_record(channel: str, start_ms: int, window_ms: int, acc: WindowAcc) -> dict[str, Any]:
    """The full record for one channel and window; ``acc`` holds its combined measurements."""
    c = acc.count
    answered, abandoned = c("answered"), c("abandoned")
    resolved, failed = c("resolved"), c("failed")
    end_ms = start_ms + window_ms
    oldest = acc.snap_min_waiting_ts
    return {
        "schema": SCHEMA,
        "channel": channel,
        "window_start": format_utc_s(start_ms),
        "window_end": format_utc_s(end_ms),
        "opened": c("opened"),
        "answered": answered,
        "answered_within_target": c("answered_within_target"),
        "abandoned": abandoned,
        "short_abandoned": c("short_abandoned"),
        "service_level": ratio(c("answered_within_target"), answered + abandoned),
        "abandonment_rate": ratio(abandoned, answered + abandoned),
        "first_response_s": acc.first_response.summary_s(),
        "resolved": resolved,
        "failed": failed,
        "resolution_rate": ratio(resolved, resolved + failed),
        "resolved_within_target": c("resolved_within_target"),
        "on_time_resolution_rate": ratio(c("resolved_within_target"), resolved),
        "resolution_s": acc.resolution.summary_s(),
        "reopened": c("reopened"),
        "reopen_rate": ratio(c("reopened"), resolved),
        "backlog_waiting": acc.snap_waiting,
        "backlog_open": acc.snap_open,
        "oldest_wait_s": 0 if oldest is None else max(0, end_ms - oldest) / 1000,
    }
