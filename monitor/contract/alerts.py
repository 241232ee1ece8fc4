"""``sqm.alerts.v1`` records (SPEC sections 3 and 5.1): the domain's alert transitions encoded
(the worker's stage two and the quality stage write them), and decoded back (``sqm report``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from monitor.contract.fields import number, one_of, text, time_ms
from monitor.contract.timefmt import format_utc_s
from monitor.domain.alerts import CRITICAL, WARNING, Transition

SCHEMA = "sqm.alerts.v1"
_SEVERITIES: Final = (WARNING, CRITICAL)
_STATES: Final = ("firing", "resolved")


def subject(t: Transition) -> str:
    """``channel`` or ``channel/queue``: what the alert is about."""
    return t.channel if t.queue is None else f"{t.channel}/{t.queue}"


def alert_id(t: Transition) -> str:
    """Stable for one episode, readable on a pager: ``phone/service_level/2026-11-21T10:04:00Z``
    (a queue alert: ``chat/billing/service_level/...``)."""
    return f"{subject(t)}/{t.indicator}/{format_utc_s(t.since_ms)}"


def key(t: Transition) -> bytes:
    """``channel/indicator``, or ``channel/queue/indicator`` for a queue alert (SPEC 9)."""
    return f"{subject(t)}/{t.indicator}".encode()


def _num(v: float | None) -> str:
    return "null" if v is None else f"{v:g}"


def summary(t: Transition) -> str:
    """One line: ``phone service_level 0.62 < 0.8 (critical)`` (a queue alert names
    ``chat/billing``), or what resolved it."""
    if t.state == "resolved":
        return f"{subject(t)} {t.indicator} back to {_num(t.value)}: resolved ({t.severity})"
    return f"{subject(t)} {t.indicator} {_num(t.value)} {t.op} {_num(t.threshold)} ({t.severity})"


def encode(t: Transition) -> bytes:
    assert t.threshold is not None, "a firing or resolved severity has its threshold"
    return orjson.dumps({
        "schema": SCHEMA,
        "alert_id": alert_id(t),
        "channel": t.channel,
        **({} if t.queue is None else {"queue": t.queue}),
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


def decode(d: Mapping[str, Any]) -> Transition:
    """One record value (parsed JSON) as the transition it records: the inverse of ``encode``
    (``alert_id`` and ``summary`` are derived, so not read). A value that does not fit raises
    ``ValueError`` naming the field."""
    if d.get("schema") != SCHEMA:
        raise ValueError(f"schema: expected {SCHEMA}, got {d.get('schema')!r}")
    return Transition(
        channel=text(d, "channel"), indicator=text(d, "indicator"),
        severity=one_of(d, "severity", _SEVERITIES), state=one_of(d, "state", _STATES),
        value=number(d, "value"), threshold=number(d, "threshold"), op=text(d, "op"),
        window_start_ms=time_ms(d, "window_start"), window_end_ms=time_ms(d, "window_end"),
        since_ms=time_ms(d, "since"),
        queue=None if d.get("queue") is None else text(d, "queue"),
    )
