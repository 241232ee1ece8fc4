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

from monitor.contract import indicators
from monitor.contract.fields import number, one_of, text, time_ms
from monitor.contract.indicators import BadRecord
from monitor.contract.timefmt import format_utc_s
from monitor.domain.quality.index import DIMENSIONS, SCORES, Spread, Sums
from monitor.domain.report.review import QualityPoint

SCHEMA: Final = "sqm.quality.v1"
#: the key of the consistency record (a channel name never contains ``*``)
CONSISTENCY_KEY: Final = b"*"
#: why an input record was refused (``sqm_quality_records_rejected_total{reason}``)
REASONS: Final = ("malformed_json", "not_an_object", "missing_field", "bad_value",
                  "unknown_channel")
#: ``consistency`` compares the scores and the index itself
CONSISTENCY_NAMES: Final = (*SCORES, "quality_index")


@dataclass(frozen=True, slots=True)
class WindowSums:
    """One window of one channel, as integer sums."""

    channel: str
    window_start_ms: int
    window_end_ms: int
    sums: Sums


def decode_window(raw: bytes | None, channels: frozenset[str], window_ms: int) -> WindowSums:
    """One ``sqm.indicators.v1`` record value; ``window_ms``: the window length every record
    must span. Raises ``BadRecord`` with its reason."""
    try:
        obj = orjson.loads(raw if raw is not None else b"")
    except orjson.JSONDecodeError as exc:
        raise BadRecord("malformed_json", str(exc)) from None
    ind = indicators.decode(obj, window_ms)  # the one decoder of the topic's records
    if ind.channel not in channels:
        raise BadRecord("unknown_channel", f"channel {ind.channel[:64]!r} is not configured")
    return WindowSums(ind.channel, ind.window_start_ms, ind.window_end_ms, indicators.sums_of(ind))


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
