"""``sqm.alerts.v1`` records (SPEC sections 3 and 5.1) from the domain's alert transitions."""

from __future__ import annotations

import orjson

from monitor.contract.timefmt import format_utc_s
from monitor.domain.alerts import Transition

SCHEMA = "sqm.alerts.v1"


def alert_id(channel: str, indicator: str, since_ms: int) -> str:
    """Stable for one episode, readable on a pager: ``phone/service_level/2026-11-21T10:04:00Z``."""
    return f"{channel}/{indicator}/{format_utc_s(since_ms)}"


def key(t: Transition) -> bytes:
    return f"{t.channel}/{t.indicator}".encode()


def _num(v: float | None) -> str:
    return "null" if v is None else f"{v:g}"


def summary(t: Transition) -> str:
    """One line: ``phone service_level 0.62 < 0.8 (critical)``, or what resolved it."""
    if t.state == "resolved":
        return f"{t.channel} {t.indicator} back to {_num(t.value)}: resolved ({t.severity})"
    return f"{t.channel} {t.indicator} {_num(t.value)} {t.op} {_num(t.threshold)} ({t.severity})"


def encode(t: Transition) -> bytes:
    assert t.threshold is not None, "a firing or resolved severity has its threshold"
    return orjson.dumps({
        "schema": SCHEMA,
        "alert_id": alert_id(t.channel, t.indicator, t.since_ms),
        "channel": t.channel,
        "indicator": t.indicator,
        "severity": t.severity,
        "state": t.state,
        "value": t.value,
        "threshold": t.threshold,
        "op": t.op,
        "window_start": format_utc_s(t.window_start_ms),
        "window_end": format_utc_s(t.window_end_ms),
        "since": format_utc_s(t.since_ms),
        "summary": summary(t),
    })
