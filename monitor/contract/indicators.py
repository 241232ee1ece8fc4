"""``sqm.indicators.v1`` records (SPEC section 3): the domain's ``Indicators`` encoded (stage
two writes them) and decoded back (stage two's changelog, ``sqm report``), and a record's
integer ``Sums`` for the quality index.

One decoder: the record's fields are checked against their JSON types by one ``msgspec``
conversion (``_Record``, every field of the schema) and become ``Indicators`` in one place
(``_indicators``). ``decode`` is strict, for records read off the topic; ``from_record`` reads
stage two's own changelog, whose records of a release before feedback lack the survey fields.
"""

from __future__ import annotations

import math
from typing import Any, Final

import msgspec
import orjson

from monitor.contract.timefmt import format_utc_s
from monitor.domain.quality.index import Sums
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


# --- decoding ---------------------------------------------------------------------------------


class BadRecord(ValueError):
    """A value that is not an ``sqm.indicators.v1`` record; ``reason`` says how, in the words of
    the quality stage's ``sqm_quality_records_rejected_total{reason}``: ``not_an_object``,
    ``missing_field`` or ``bad_value``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class _Summary(msgspec.Struct, frozen=True):
    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None
    max: float | None


class _Dimension(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    responses: int
    expected_mean: float | None
    perceived_mean: float | None
    gap: float | None


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    """Every field of the record, as its JSON type. The schema requires them all; two that no
    figure of the report or the quality index reads have always been let go when missing."""

    schema: str
    channel: str
    window_start: str
    window_end: str
    opened: int
    answered: int
    answered_within_target: int
    abandoned: int
    short_abandoned: int
    service_level: float | None
    abandonment_rate: float | None
    first_response_s: _Summary
    resolved: int
    failed: int
    resolution_rate: float | None
    resolved_within_target: int
    on_time_resolution_rate: float | None
    resolution_s: _Summary
    reopened: int
    reopen_rate: float | None
    backlog_waiting: int
    backlog_open: int
    oldest_wait_s: int | float  # an integer 0 when nothing was waiting
    feedback_responses: int
    csat_responses: int
    csat_mean: float | None
    csat_satisfied_ratio: float | None = None
    nps_responses: int
    nps: float | None
    complaints: int
    complaint_rate: float | None = None
    servqual: dict[str, _Dimension]
    #: ``sqm.queues.v1`` only (SPEC 9)
    queue: str | None = None


#: the survey fields' values without any answer: a changelog record of a release before feedback
#: has none of these fields
_NO_FEEDBACK: Final[dict[str, Any]] = {
    "feedback_responses": 0, "csat_responses": 0, "csat_mean": None, "csat_satisfied_ratio": None,
    "nps_responses": 0, "nps": None, "complaints": 0, "complaint_rate": None, "servqual": {}}


def _ms_summary(s: _Summary) -> Summary:
    if s.max is None:
        return EMPTY_SUMMARY
    p50, p90, p99, mean = (None if v is None else v * 1000 for v in (s.p50, s.p90, s.p99, s.mean))
    return Summary(p50, p90, p99, mean, round(s.max * 1000))


def _indicators(r: _Record, start_ms: int, end_ms: int) -> Indicators:
    """The indicators of a checked record. Quantiles come back within float rounding of the
    originals: they only feed gauges and the report's tables."""
    oldest_s = r.oldest_wait_s
    return Indicators(
        channel=r.channel, window_start_ms=start_ms, window_end_ms=end_ms,
        opened=r.opened, answered=r.answered,
        answered_within_target=r.answered_within_target, abandoned=r.abandoned,
        short_abandoned=r.short_abandoned, service_level=r.service_level,
        abandonment_rate=r.abandonment_rate, first_response=_ms_summary(r.first_response_s),
        resolved=r.resolved, failed=r.failed, resolution_rate=r.resolution_rate,
        resolved_within_target=r.resolved_within_target,
        on_time_resolution_rate=r.on_time_resolution_rate,
        resolution=_ms_summary(r.resolution_s), reopened=r.reopened,
        reopen_rate=r.reopen_rate, backlog_waiting=r.backlog_waiting,
        backlog_open=r.backlog_open,
        oldest_wait_ms=None if oldest_s == 0 and isinstance(oldest_s, int) else round(oldest_s * 1000),
        feedback_responses=r.feedback_responses, csat_responses=r.csat_responses,
        csat_mean=r.csat_mean, csat_satisfied_ratio=r.csat_satisfied_ratio,
        nps_responses=r.nps_responses, nps=r.nps,
        complaints=r.complaints, complaint_rate=r.complaint_rate,
        servqual=tuple(NO_SURVEY if (x := r.servqual.get(dim)) is None
                       else Dimension(x.responses, x.expected_mean, x.perceived_mean, x.gap)
                       for dim in DIMENSIONS),
        queue=r.queue,
    )


def decode(obj: object, window_ms: int | None = None, schema: str = SCHEMA) -> Indicators:
    """One record value read off the topic (parsed JSON), every field checked; ``window_ms``:
    when given, the record must span one window of that length, aligned to the epoch;
    ``schema``: ``sqm.queues.v1`` for a queue's record (``monitor.contract.queues``). Raises
    ``BadRecord`` with its reason."""
    if not isinstance(obj, dict):
        raise BadRecord("not_an_object", f"a JSON {type(obj).__name__}, not an object")
    try:
        r = msgspec.convert(obj, _Record)
    except msgspec.ValidationError as exc:
        text = str(exc)
        raise BadRecord("missing_field" if "missing required field" in text else "bad_value",
                        text) from None
    if r.schema != schema:
        raise BadRecord("bad_value", f"schema: expected {schema}, got {r.schema!r}")
    if (r.queue is None) != (schema == SCHEMA):
        raise BadRecord("missing_field" if r.queue is None else "bad_value",
                        f"queue: {schema} records {'have' if r.queue is None else 'have no'} "
                        "queue")
    start, end = parse_rfc3339_ms(r.window_start), parse_rfc3339_ms(r.window_end)
    if start is None or end is None:
        raise BadRecord("bad_value", f"window bounds {r.window_start!r}..{r.window_end!r}")
    if window_ms is not None and (end - start != window_ms or start % window_ms):
        raise BadRecord("bad_value", f"window {r.window_start}..{r.window_end} is not one "
                                     f"aligned window of {window_ms // 1000} s (window_s)")
    return _indicators(r, start, end)


def from_record(d: dict[str, Any]) -> Indicators:
    """The indicators back from a record of stage two's changelog (it keeps its latest records),
    the survey fields defaulting to no answers (a release before feedback wrote none)."""
    full = {**_NO_FEEDBACK, **d}
    if full["servqual"] is None:
        full["servqual"] = {}
    r = msgspec.convert(full, _Record)
    start, end = parse_rfc3339_ms(r.window_start), parse_rfc3339_ms(r.window_end)
    if start is None or end is None:
        raise ValueError(f"indicator record with bad window bounds: {d['window_start']!r}")
    return _indicators(r, start, end)


# --- integer sums ------------------------------------------------------------------------------

#: the counts of a record that the quality index sums as they are
COUNTS: Final = ("opened", "answered", "answered_within_target", "abandoned", "resolved",
                  "resolved_within_target", "failed", "reopened", "feedback_responses",
                  "complaints")


def sum_of_mean(mean: float | None, n: int, what: str, scale: int = 1) -> int:
    """The integer sum behind ``mean`` over ``n`` answers (0 when there are none); ``scale``:
    the mean is ``scale`` x sum / n (NPS is a percentage)."""
    if n < 0:
        raise BadRecord("bad_value", f"{what}: negative count {n}")
    if n == 0:
        return 0
    if mean is None or not math.isfinite(mean):
        raise BadRecord("bad_value", f"{what}: mean is {mean!r} with {n} responses")
    return round(mean * n / scale)


def sums_of(ind: Indicators) -> Sums:
    """One window's integer sums for the quality index (SPEC 7.2). A record carries means (csat,
    nps, SERVQUAL) rather than sums, but each mean is an integer sum divided by its count, so
    ``round(mean x count)`` gives the sum back exactly (float error is far below 0.5 for any
    realistic count). The report and the quality stage both convert with it, so the report's
    SERVQUAL gaps are the stage's.
    Raises ``BadRecord`` for a negative count or a missing mean with answers."""
    counts: dict[str, int] = {name: getattr(ind, name) for name in COUNTS}
    for name, value in counts.items():
        if value < 0:
            raise BadRecord("bad_value", f"{name}: negative count {value}")
    return Sums(
        **counts,
        csat_responses=ind.csat_responses,
        csat_sum=sum_of_mean(ind.csat_mean, ind.csat_responses, "csat_mean"),
        nps_responses=ind.nps_responses,
        # nps = 100 (promoters - detractors) / n, so the net count is nps x n / 100
        nps_net=sum_of_mean(ind.nps, ind.nps_responses, "nps", scale=100),
        servqual_responses=[c.responses for c in ind.servqual],
        servqual_expected_sum=[sum_of_mean(c.expected_mean, c.responses, f"servqual.{d}.expected_mean")
                               for d, c in zip(DIMENSIONS, ind.servqual, strict=True)],
        servqual_perceived_sum=[sum_of_mean(c.perceived_mean, c.responses, f"servqual.{d}.perceived_mean")
                                for d, c in zip(DIMENSIONS, ind.servqual, strict=True)],
    )
