"""The indicators of one channel, or queue, and window (SPEC sections 2 and 9), computed from its
accumulator.

Times stay integer or float milliseconds here; ``monitor.contract.indicators`` writes the record of
``sqm.indicators.v1`` (RFC 3339 bounds, seconds) and the exporter reads these fields directly.
"""

from __future__ import annotations

from typing import Any

import msgspec

from monitor.domain.stream import feedback as fb
from monitor.domain.stream.sketch import Summary
from monitor.domain.stream.window import WindowAcc


def ratio(num: int, den: int) -> float | None:
    """``num / den``, or None when the denominator is 0."""
    return num / den if den else None


def mean(total: int, n: int) -> float | None:
    return total / n if n else None


class Dimension(msgspec.Struct, frozen=True, gc=False):
    """One SERVQUAL dimension of one window: gap = perceived mean - expected mean (gap 5)."""

    responses: int
    expected_mean: float | None
    perceived_mean: float | None
    gap: float | None


NO_SURVEY = Dimension(0, None, None, None)


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
    # customer feedback (SPEC 7.1)
    feedback_responses: int = 0
    csat_responses: int = 0
    csat_mean: float | None = None
    csat_satisfied_ratio: float | None = None
    nps_responses: int = 0
    nps: float | None = None
    complaints: int = 0
    complaint_rate: float | None = None
    servqual: tuple[Dimension, ...] = (NO_SURVEY,) * len(fb.DIMENSIONS)
    #: the queue of a queue record (SPEC 9); None: the channel's record, the roll-up of its queues
    queue: str | None = None


def indicators(channel: str, start_ms: int, window_ms: int, acc: WindowAcc,
               queue: str | None = None) -> Indicators:
    """The indicators of one channel (or one of its queues) and window; ``acc`` holds its
    combined measurements."""
    c = acc.count
    answered, abandoned = c("answered"), c("abandoned")
    resolved, failed = c("resolved"), c("failed")
    end_ms = start_ms + window_ms
    oldest = acc.snap_min_waiting_ts
    opened = c("opened")
    return Indicators(
        channel=channel,
        window_start_ms=start_ms,
        window_end_ms=end_ms,
        opened=opened,
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
        queue=queue,
        **({"complaint_rate": ratio(0, opened)} if acc.feedback is None
           else surveys(acc.feedback, opened)),
    )


def surveys(f: list[int], opened: int) -> dict[str, Any]:
    """The feedback fields of a window from its sums (SPEC 7.1): NPS is the percentage of
    promoters (9-10) minus that of detractors (0-6); complaint rate is per opened contact."""
    nps_n = f[fb.NPS_N]
    return {
        "feedback_responses": f[fb.RESPONSES],
        "csat_responses": f[fb.CSAT_N],
        "csat_mean": mean(f[fb.CSAT_SUM], f[fb.CSAT_N]),
        "csat_satisfied_ratio": ratio(f[fb.CSAT_SATISFIED], f[fb.CSAT_N]),
        "nps_responses": nps_n,
        "nps": 100 * (f[fb.NPS_PROMOTERS] - f[fb.NPS_DETRACTORS]) / nps_n if nps_n else None,
        "complaints": f[fb.COMPLAINTS],
        "complaint_rate": ratio(f[fb.COMPLAINTS], opened),
        "servqual": tuple(_dimension(f, fb.SQ + 3 * k) for k in range(len(fb.DIMENSIONS))),
    }


def _dimension(f: list[int], i: int) -> Dimension:
    n = f[i]
    if not n:
        return NO_SURVEY
    expected, perceived = f[i + 1] / n, f[i + 2] / n
    return Dimension(n, expected, perceived, perceived - expected)
