"""The records ``sqm report`` reads, decoded back into domain values (the inverse of
``wire.alerts`` and ``wire.quality``'s ``channel_record``).

The report must say exactly what the stream said, so nothing here recomputes a figure: an alert
record gives back its ``Transition`` and a quality record its ``QualityPoint``. A value that does
not fit raises ``ValueError`` naming the field, so the caller can skip it and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
import orjson

from monitor.contract import alerts as alerts_wire
from monitor.contract import indicators as indicators_wire
from monitor.contract import quality as quality_wire
from monitor.domain.alerts import CRITICAL, WARNING, Transition
from monitor.domain.report.review import QualityPoint
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.timefmt import parse_rfc3339_ms

_SEVERITIES: Final = (WARNING, CRITICAL)
_STATES: Final = ("firing", "resolved")


def _text(d: Mapping[str, Any], name: str) -> str:
    value = d.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    return value


def _time(d: Mapping[str, Any], name: str) -> int:
    ms = parse_rfc3339_ms(_text(d, name))
    if ms is None:
        raise ValueError(f"{name}: not an RFC 3339 time: {d[name]!r}")
    return ms


def _number(d: Mapping[str, Any], name: str) -> float | None:
    value = d.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number or null, got {value!r}")
    return float(value)


def _one_of(d: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = _text(d, name)
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def transition(d: Mapping[str, Any]) -> Transition:
    """One ``sqm.alerts.v1`` record value (already parsed JSON) as the transition it records."""
    if d.get("schema") != alerts_wire.SCHEMA:
        raise ValueError(f"schema: expected {alerts_wire.SCHEMA}, got {d.get('schema')!r}")
    return Transition(
        channel=_text(d, "channel"), indicator=_text(d, "indicator"),
        severity=_one_of(d, "severity", _SEVERITIES), state=_one_of(d, "state", _STATES),
        value=_number(d, "value"), threshold=_number(d, "threshold"), op=_text(d, "op"),
        window_start_ms=_time(d, "window_start"), window_end_ms=_time(d, "window_end"),
        since_ms=_time(d, "since"),
    )


def quality_point(d: Mapping[str, Any]) -> QualityPoint | None:
    """One ``sqm.quality.v1`` record value as its channel's index for the period; None for a
    ``kind: consistency`` record (the report computes consistency over its whole range)."""
    if d.get("schema") != quality_wire.SCHEMA:
        raise ValueError(f"schema: expected {quality_wire.SCHEMA}, got {d.get('schema')!r}")
    if _one_of(d, "kind", ("channel", "consistency")) == "consistency":
        return None
    return QualityPoint(_text(d, "channel"), _time(d, "period_start"), _time(d, "period_end"),
                        _number(d, "quality_index"))


def weights_of(d: Mapping[str, Any]) -> dict[str, float]:
    """The weights a ``kind: channel`` quality record was computed with (the entropy method's
    weights change each period, so the report takes them from the data)."""
    raw = d.get("weights")
    if not isinstance(raw, dict):
        raise ValueError(f"weights: expected an object, got {raw!r}")
    out: dict[str, float] = {}
    for name, value in raw.items():
        w = _number(raw, name)
        if w is None:
            raise ValueError(f"weights.{name}: expected a number, got {value!r}")
        out[str(name)] = w
    return out


def window(d: Mapping[str, Any], channels: frozenset[str],
           window_ms: int) -> tuple[Indicators, quality_wire.WindowSums]:
    """One ``sqm.indicators.v1`` record value as its ``Indicators`` and as the integer sums the
    quality stage adds up (the same conversion, so the report's SERVQUAL gaps are the stage's).

    ``from_record`` trusts its input (it reads the stage's own changelog); here every field's
    type is checked, since a wrong one would otherwise surface as a crash deep in a sum."""
    raw = orjson.dumps(d)
    try:
        sums = quality_wire.decode_window(raw, channels, window_ms)
        ind = msgspec.json.decode(msgspec.json.encode(indicators_wire.from_record(dict(d))),
                                  type=Indicators)
    except quality_wire.BadRecord as exc:
        raise ValueError(str(exc)) from None
    except msgspec.ValidationError as exc:
        raise ValueError(f"indicators record: {exc}") from None
    return ind, sums
