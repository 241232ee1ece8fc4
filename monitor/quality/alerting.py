"""Threshold alerts on ``quality_index`` per closed period (SPEC 5.1), without Faust.

Each (channel, indicator) keeps its ``AlertState`` with the period it has been fed through and
the transition that period caused (``monitor.state.periods.AlertEntry``, the ``alerts`` table's
value). Feeding a period the state has already seen changes nothing and hands back the stored
transition instead: after a crash between saving the state and publishing, the stage re-reads
the period, and the transition must be published (maybe again), never re-decided from a state
that already counted the period.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from monitor.domain.alerts import CRITICAL, WARNING, AlertState, Rule, Span, Transition, evaluate_value
from monitor.state.periods import AlertEntry, alert_key


class Step(msgspec.Struct, frozen=True, gc=False):
    entry: AlertEntry
    transition: Transition | None
    #: the period had been fed before: ``transition`` may already be published
    replayed: bool


def step(rule: Rule, entry: AlertEntry | None, span: Span, value: float | None) -> Step:
    """Feed one closed period (in period order) to one alert."""
    if entry is not None and entry.through_ms is not None and span.start_ms <= entry.through_ms:
        t = entry.transition if span.start_ms == entry.through_ms else None
        return Step(entry, t, replayed=True)
    state = msgspec.structs.replace(entry.state) if entry is not None else AlertState()
    t = evaluate_value(rule, state, span, value, volume=None)
    return Step(AlertEntry(state, span.start_ms, t), t, replayed=False)


def active(rules: Mapping[str, tuple[Rule, ...]],
           entries: Mapping[str, AlertEntry]) -> dict[tuple[str, str, str], int]:
    """``sqm_alert_active``: 1 for the severity firing, 0 for every other configured one."""
    out: dict[tuple[str, str, str], int] = {}
    for ch, chan_rules in rules.items():
        for rule in chan_rules:
            entry = entries.get(alert_key(ch, rule.indicator))
            firing = None if entry is None else entry.state.severity
            for severity, threshold in ((WARNING, rule.warning), (CRITICAL, rule.critical)):
                if threshold is not None:
                    out[(ch, rule.indicator, severity)] = int(firing == severity)
    return out
