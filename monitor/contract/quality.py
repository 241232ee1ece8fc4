"""The quality stage's byte formats: ``sqm.indicators.v1`` records in, ``sqm.quality.v1`` out.

In: a window record becomes integer ``Sums`` again. The record carries means (csat, nps, SERVQUAL)
rather than sums, but each mean is an integer sum divided by its count, so ``round(mean x count)``
gives the sum back exactly (float error is far below 0.5 for any realistic count); a period can
then add its windows up exactly, in any order (SPEC 7.2: the period's sums, not an average of
window ratios). Out: SPEC 7.4's records, one per channel and one for the consistency (key ``*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import orjson

from monitor.contract.fields import number, one_of, text, time_ms
from monitor.contract.indicators import BadRecord, sums
from monitor.contract.timefmt import format_utc_s
from monitor.domain.quality.index import DIMENSIONS, SCORES, Spread, Sums
from monitor.domain.report.review import QualityPoint
from monitor.domain.stream.timefmt import parse_rfc3339_ms

SCHEMA: Final = "sqm.quality.v1"
INDICATORS_SCHEMA: Final = "sqm.indicators.v1"
#: the key of the consistency record (a channel name never contains ``*``)
CONSISTENCY_KEY: Final = b"*"
#: why an input record was refused (``sqm_quality_records_rejected_total{reason}``)
REASONS: Final = ("malformed_json", "not_an_object", "missing_field", "bad_value",
                  "unknown_channel")
#: ``consistency`` compares the scores and the index itself
CONSISTENCY_NAMES: Final = (*SCORES, "quality_index")


class _Dimension(msgspec.Struct):
    responses: int
    expected_mean: float | None
    perceived_mean: float | None


class _Window(msgspec.Struct):
    """The fields of an ``sqm.indicators.v1`` record the quality stage needs; others ignored."""

    schema: str
    channel: str
    window_start: str
    window_end: str
    opened: int
    answered: int
    answered_within_target: int
    abandoned: int
    resolved: int
    resolved_within_target: int
    failed: int
    reopened: int
    feedback_responses: int
    csat_responses: int
    csat_mean: float | None
    nps_responses: int
    nps: float | None
    complaints: int
    servqual: dict[str, _Dimension]


@dataclass(frozen=True, slots=True)
class WindowSums:
    """One window of one channel, as integer sums."""

    channel: str
    window_start_ms: int
    window_end_ms: int
    sums: Sums


def sums_of(w: _Window) -> Sums:
    """Integer sums of one window record (csat_sum, nps_net and SERVQUAL sums from the means;
    ``contract.indicators.sums``)."""
    return sums(w, [w.servqual.get(d, _Dimension(0, None, None)) for d in DIMENSIONS])


def _convert(obj: dict[str, Any]) -> _Window:
    try:
        return msgspec.convert(obj, _Window)
    except msgspec.ValidationError as exc:
        text = str(exc)
        raise BadRecord("missing_field" if "missing required field" in text else "bad_value",
                        text) from None


def decode_window(raw: bytes | None, channels: frozenset[str], window_ms: int) -> WindowSums:
    """One ``sqm.indicators.v1`` record value; ``window_ms``: the window length every record
    must span. Raises ``BadRecord`` with its reason."""
    try:
        obj = orjson.loads(raw if raw is not None else b"")
    except orjson.JSONDecodeError as exc:
        raise BadRecord("malformed_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise BadRecord("not_an_object", f"a JSON {type(obj).__name__}, not an object")
    w = _convert(obj)
    if w.schema != INDICATORS_SCHEMA:
        raise BadRecord("bad_value", f"schema: expected {INDICATORS_SCHEMA}, got {w.schema!r}")
    if w.channel not in channels:
        raise BadRecord("unknown_channel", f"channel {w.channel[:64]!r} is not configured")
    window_start_ms = parse_rfc3339_ms(w.window_start)
    window_end_ms = parse_rfc3339_ms(w.window_end)
    if window_start_ms is None or window_end_ms is None:
        raise BadRecord("bad_value", f"window bounds {w.window_start!r}..{w.window_end!r}")
    if window_end_ms - window_start_ms != window_ms or window_start_ms % window_ms:
        raise BadRecord("bad_value", f"window {w.window_start}..{w.window_end} is not one "
                                     f"aligned window of {window_ms // 1000} s (window_s)")
    return WindowSums(w.channel, window_start_ms, window_end_ms, sums_of(w))


# --- sqm.quality.v1 --------------------------------------------------------------------------


def channel_record(channel: str, period_start_ms: int, period_end_ms: int,
                   index: float | None, scores: Mapping[str, float | None],
                   weights: Mapping[str, float], method: str,
                   gaps: Mapping[str, float | None]) -> dict[str, Any]:
    """SPEC 7.4's ``kind: channel`` record; every score and dimension is present."""
    return {
        "schema": SCHEMA,
        "kind": "channel",
        "period_start": format_utc_s(period_start_ms),
        "period_end": format_utc_s(period_end_ms),
        "channel": channel,
        "quality_index": index,
        "scores": {name: scores.get(name) for name in SCORES},
        "weights": {name: weights.get(name, 0.0) for name in SCORES},
        "method": method,
        "servqual_gap": {d: gaps.get(d) for d in DIMENSIONS},
    }


def _spread(s: Spread | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"mean": s.mean, "stddev": s.stddev, "cv": s.cv, "best_channel": s.best_channel,
            "worst_channel": s.worst_channel}


def consistency_record(period_start_ms: int, period_end_ms: int,
                       spreads: Mapping[str, Spread | None]) -> dict[str, Any]:
    """SPEC 7.4's ``kind: consistency`` record: every score and ``quality_index``, null when no
    channel had it."""
    return {
        "schema": SCHEMA,
        "kind": "consistency",
        "period_start": format_utc_s(period_start_ms),
        "period_end": format_utc_s(period_end_ms),
        "scores": {name: _spread(spreads.get(name)) for name in CONSISTENCY_NAMES},
    }


def encode(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record)


# --- read back (``sqm report``): the inverse of ``channel_record`` ------------------------
# The report must say exactly what the stream said, so nothing here recomputes a figure: a
# ``kind: channel`` record gives back its period's ``QualityPoint`` and the weights the index
# was computed with. A value that does not fit raises ``ValueError`` naming the field.


class ChannelQuality(msgspec.Struct, frozen=True):
    """One ``kind: channel`` record: the channel's index for the period, and its weights (the
    entropy method's weights change each period, so the report takes them from the data)."""

    point: QualityPoint
    weights: dict[str, float]


def _weights(d: Mapping[str, Any]) -> dict[str, float]:
    raw = d.get("weights")
    if not isinstance(raw, dict):
        raise ValueError(f"weights: expected an object, got {raw!r}")
    out: dict[str, float] = {}
    for name, value in raw.items():
        w = number(raw, name)
        if w is None:
            raise ValueError(f"weights.{name}: expected a number, got {value!r}")
        out[str(name)] = w
    return out


def decode(d: Mapping[str, Any]) -> ChannelQuality | None:
    """One record value (parsed JSON); None for a ``kind: consistency`` record (the report
    computes consistency over its whole range instead)."""
    if d.get("schema") != SCHEMA:
        raise ValueError(f"schema: expected {SCHEMA}, got {d.get('schema')!r}")
    if one_of(d, "kind", ("channel", "consistency")) == "consistency":
        return None
    point = QualityPoint(text(d, "channel"), time_ms(d, "period_start"), time_ms(d, "period_end"),
                         number(d, "quality_index"))
    return ChannelQuality(point, _weights(d))
