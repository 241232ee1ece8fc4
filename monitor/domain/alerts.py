"""Threshold alerts in the stream (SPEC section 5.1): one state machine per (channel, indicator)
or (channel, queue, indicator) (SPEC 9), fed by each final window in window order.

A window whose value is null, or whose volume is below ``min_volume``, leaves the alert as it
is. Otherwise it either breaches a severity or not: ``ok`` fires at a severity once it has
breached for ``for_windows`` consecutive counted windows (critical first); ``warning``
escalates the same way; ``critical`` de-escalates once critical has been clear for
``clear_windows`` while warning still breaches; the alert resolves once neither has breached
for ``clear_windows``. Every decision depends only on the windows, so a replay decides the same.
Stage two feeds the window indicators; the quality stage feeds ``quality_index`` per period
(``evaluate_value``: the same machine, a period in place of a window).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from monitor.domain.stream.indicators import Indicators

WARNING, CRITICAL = "warning", "critical"
#: windows back in which a channel must have had ``opened`` events for ``no_data`` to breach
NO_DATA_LOOKBACK_WINDOWS = 60


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[alerts]]`` entry for one channel, thresholds in the indicator's own unit
    (seconds for ``*_s``: an ``"Nx"`` is resolved before it gets here). ``no_data`` is 1 for a
    window without ``opened`` after some in the previous 60 windows, else 0 (the shipped rule:
    ``> 0`` for 10 windows)."""

    indicator: str
    op: str  # "<" or ">"
    warning: float | None
    critical: float | None
    for_windows: int = 2
    clear_windows: int = 2
    min_volume: int = 10


class AlertState(msgspec.Struct, gc=False):
    """Durable state of one (channel, indicator): what fires and the streaks that decide next."""

    severity: str | None = None  # firing severity; None: ok
    since_ms: int | None = None  # window start of the first breaching window of the episode
    warn_run: int = 0  # consecutive counted windows breaching warning (or critical)
    crit_run: int = 0  # consecutive counted windows breaching critical
    clear_run: int = 0  # consecutive counted windows breaching neither
    crit_clear_run: int = 0  # consecutive counted windows not breaching critical
    last_active_ms: int | None = None  # latest window with opened events (for no_data)


class Transition(msgspec.Struct, frozen=True, gc=False):
    """A change of an alert, as ``sqm.alerts.v1`` records it (``since_ms`` and the channel and
    indicator identify the episode)."""

    channel: str
    indicator: str
    severity: str  # the new severity; for ``resolved``, the one that was firing
    state: str  # "firing" | "resolved"
    value: float | None
    threshold: float | None
    op: str
    window_start_ms: int
    window_end_ms: int
    since_ms: int
    #: the queue of a queue alert (SPEC 9); None: the channel's
    queue: str | None = None


def value_of(ind: Indicators, indicator: str) -> float | None:
    """The indicator's value in the window's record (seconds for ``*_s``, as recorded);
    ``no_data`` is not a field of the record (``evaluate`` derives it)."""
    if indicator == "first_response_p90_s":
        p90 = ind.first_response.p90_ms
        return None if p90 is None else round(p90 / 1000, 6)
    if indicator == "oldest_wait_s":
        return 0 if ind.oldest_wait_ms is None else ind.oldest_wait_ms / 1000
    value: float | None = getattr(ind, indicator)
    return value


def volume_of(ind: Indicators, indicator: str) -> int | None:
    """The window's volume for the ``min_volume`` guard; None: the indicator has no guard."""
    if indicator in ("service_level", "abandonment_rate"):
        return ind.answered + ind.abandoned
    if indicator == "resolution_rate":
        return ind.resolved + ind.failed
    if indicator in ("on_time_resolution_rate", "reopen_rate"):
        return ind.resolved
    if indicator == "first_response_p90_s":
        return ind.answered
    if indicator == "csat_mean":
        return ind.csat_responses
    if indicator == "nps":
        return ind.nps_responses
    return None  # oldest_wait_s, backlog_waiting, no_data


def breaches(op: str, value: float, threshold: float | None) -> bool:
    """``value`` is on the wrong side of ``threshold`` (never when there is none); the report
    judges windows and periods with this same rule."""
    if threshold is None:
        return False
    return value < threshold if op == "<" else value > threshold


def evaluate(rule: Rule, state: AlertState, ind: Indicators) -> Transition | None:
    """Feed one final window (in window order) to the alert; returns its transition, if any."""
    if rule.indicator == "no_data":
        value: float | None = 1 if _no_data(state, ind) else 0
        volume = None
    else:
        value = value_of(ind, rule.indicator)
        volume = volume_of(ind, rule.indicator)
    return evaluate_value(rule, state, Span(ind.channel, ind.window_start_ms, ind.window_end_ms,
                                            ind.queue), value, volume)


@dataclass(frozen=True, slots=True)
class Span:
    """What a value was measured over: a channel's window (or, for ``quality_index``, period)."""

    channel: str
    start_ms: int
    end_ms: int
    queue: str | None = None


def evaluate_value(rule: Rule, state: AlertState, span: Span, value: float | None,
                   volume: int | None) -> Transition | None:
    """Feed one value (in time order) to the alert; None value or a volume under the guard
    leaves it as it is."""
    if value is None or (volume is not None and volume < rule.min_volume):
        return None
    crit = breaches(rule.op, value, rule.critical)
    warn = crit or breaches(rule.op, value, rule.warning)
    _count(state, warn, crit, span.start_ms)
    return _decide(rule, state, span, value)


def _no_data(state: AlertState, ind: Indicators) -> bool:
    """No ``opened`` in this window, though there were some in the previous 60 windows."""
    if ind.opened:
        state.last_active_ms = ind.window_start_ms
        return False
    last = state.last_active_ms
    window_ms = ind.window_end_ms - ind.window_start_ms
    return last is not None and ind.window_start_ms - last <= NO_DATA_LOOKBACK_WINDOWS * window_ms


def _count(state: AlertState, warn: bool, crit: bool, window_start_ms: int) -> None:
    """Advance the streaks by one counted window."""
    if warn and state.warn_run == 0 and state.severity is None:
        state.since_ms = window_start_ms  # a new run of breaches: the episode would start here
    state.warn_run = state.warn_run + 1 if warn else 0
    state.crit_run = state.crit_run + 1 if crit else 0
    state.clear_run = 0 if warn else state.clear_run + 1
    state.crit_clear_run = 0 if crit else state.crit_clear_run + 1


def _decide(rule: Rule, state: AlertState, ind: Span, value: float | None) -> Transition | None:
    """The transition the streaks call for, applied to ``state``."""
    fire_at = rule.for_windows
    if state.severity is None:
        if rule.critical is not None and state.crit_run >= fire_at:
            new: str | None = CRITICAL
        elif rule.warning is not None and state.warn_run >= fire_at:
            new = WARNING
        else:
            return None
    elif state.clear_run >= rule.clear_windows:
        return _resolve(rule, state, ind, value)
    elif state.severity == WARNING and rule.critical is not None and state.crit_run >= fire_at:
        new = CRITICAL
    elif (state.severity == CRITICAL and state.crit_clear_run >= rule.clear_windows
          and state.warn_run > 0 and rule.warning is not None):
        new = WARNING
    else:
        return None
    state.severity = new
    return _transition(rule, state, ind, value, "firing")


def _resolve(rule: Rule, state: AlertState, ind: Span, value: float | None) -> Transition:
    out = _transition(rule, state, ind, value, "resolved")
    state.severity = None
    state.since_ms = None
    return out


def _transition(rule: Rule, state: AlertState, ind: Span, value: float | None,
                what: str) -> Transition:
    assert state.severity is not None and state.since_ms is not None
    threshold = rule.critical if state.severity == CRITICAL else rule.warning
    return Transition(
        ind.channel, rule.indicator, state.severity, what, value, threshold, rule.op,
        ind.start_ms, ind.end_ms, state.since_ms, ind.queue)
