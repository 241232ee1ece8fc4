"""``sqm.indicators.v1`` records (SPEC section 3) from the domain's ``Indicators``."""

from __future__ import annotations

from typing import Any

import orjson

from monitor.contract.timefmt import format_utc_s
from monitor.domain.stream.feedback import DIMENSIONS
from monitor.domain.stream.indicators import NO_SURVEY, Dimension, Indicators
from monitor.domain.stream.sketch import EMPTY_SUMMARY, Summary
from monitor.domain.stream.timefmt import parse_rfc3339_ms

SCHEMA = "sqm.indicators.v1"
_NULLS: dict[str, float | None] = {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 6)


def summary_s(s: Summary) -> dict[str, float | None]:
    """``{p50, p90, p99, mean, max}`` in seconds, nulls when empty."""
    if s.max_ms is None:
        return dict(_NULLS)
    return {"p50": _s(s.p50_ms), "p90": _s(s.p90_ms), "p99": _s(s.p99_ms), "mean": _s(s.mean_ms),
            "max": s.max_ms / 1000}


def record(ind: Indicators) -> dict[str, Any]:
    """The JSON object of one record, fields in the order of SPEC section 2."""
    return {
        "schema": SCHEMA,
        "channel": ind.channel,
        "window_start": format_utc_s(ind.window_start_ms),
        "window_end": format_utc_s(ind.window_end_ms),
        "opened": ind.opened,
        "answered": ind.answered,
        "answered_within_target": ind.answered_within_target,
        "abandoned": ind.abandoned,
        "short_abandoned": ind.short_abandoned,
        "service_level": ind.service_level,
        "abandonment_rate": ind.abandonment_rate,
        "first_response_s": summary_s(ind.first_response),
        "resolved": ind.resolved,
        "failed": ind.failed,
        "resolution_rate": ind.resolution_rate,
        "resolved_within_target": ind.resolved_within_target,
        "on_time_resolution_rate": ind.on_time_resolution_rate,
        "resolution_s": summary_s(ind.resolution),
        "reopened": ind.reopened,
        "reopen_rate": ind.reopen_rate,
        "backlog_waiting": ind.backlog_waiting,
        "backlog_open": ind.backlog_open,
        "oldest_wait_s": 0 if ind.oldest_wait_ms is None else ind.oldest_wait_ms / 1000,
        "feedback_responses": ind.feedback_responses,
        "csat_responses": ind.csat_responses,
        "csat_mean": ind.csat_mean,
        "csat_satisfied_ratio": ind.csat_satisfied_ratio,
        "nps_responses": ind.nps_responses,
        "nps": ind.nps,
        "complaints": ind.complaints,
        "complaint_rate": ind.complaint_rate,
        "servqual": {d: {"responses": x.responses, "expected_mean": x.expected_mean,
                         "perceived_mean": x.perceived_mean, "gap": x.gap}
                     for d, x in zip(DIMENSIONS, ind.servqual, strict=True)},
    }


def encode(ind: Indicators) -> bytes:
    return orjson.dumps(record(ind))


def _ms_summary(d: dict[str, Any]) -> Summary:
    if d["max"] is None:
        return EMPTY_SUMMARY
    p50, p90, p99, mean = (None if d[k] is None else d[k] * 1000 for k in ("p50", "p90", "p99", "mean"))
    return Summary(p50, p90, p99, mean, round(d["max"] * 1000))


def from_record(d: dict[str, Any]) -> Indicators:
    """The indicators back from a record (stage two's changelog keeps its latest records).
    Quantiles come back within float rounding of the originals: they only feed gauges."""
    start, end = parse_rfc3339_ms(d["window_start"]), parse_rfc3339_ms(d["window_end"])
    if start is None or end is None:
        raise ValueError(f"indicator record with bad window bounds: {d['window_start']!r}")
    oldest_s = d["oldest_wait_s"]
    sq = d.get("servqual") or {}  # (a record of a release before feedback has none)
    return Indicators(
        channel=d["channel"], window_start_ms=start, window_end_ms=end,
        opened=d["opened"], answered=d["answered"],
        answered_within_target=d["answered_within_target"], abandoned=d["abandoned"],
        short_abandoned=d["short_abandoned"], service_level=d["service_level"],
        abandonment_rate=d["abandonment_rate"], first_response=_ms_summary(d["first_response_s"]),
        resolved=d["resolved"], failed=d["failed"], resolution_rate=d["resolution_rate"],
        resolved_within_target=d["resolved_within_target"],
        on_time_resolution_rate=d["on_time_resolution_rate"],
        resolution=_ms_summary(d["resolution_s"]), reopened=d["reopened"],
        reopen_rate=d["reopen_rate"], backlog_waiting=d["backlog_waiting"],
        backlog_open=d["backlog_open"],
        oldest_wait_ms=None if oldest_s == 0 and isinstance(oldest_s, int) else round(oldest_s * 1000),
        feedback_responses=d.get("feedback_responses", 0), csat_responses=d.get("csat_responses", 0),
        csat_mean=d.get("csat_mean"), csat_satisfied_ratio=d.get("csat_satisfied_ratio"),
        nps_responses=d.get("nps_responses", 0), nps=d.get("nps"),
        complaints=d.get("complaints", 0), complaint_rate=d.get("complaint_rate"),
        servqual=tuple(Dimension(**sq[dim]) if dim in sq else NO_SURVEY for dim in DIMENSIONS),
    )
