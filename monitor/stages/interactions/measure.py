"""Adding one measurement to its window's partial (SPEC section 2: targets decide the counts;
SPEC 9: the queue's targets, in the queue the interaction is in; SPEC 7.1: a survey counts in
the window of its own time)."""

from __future__ import annotations

from monitor.domain.stream import feedback
from monitor.domain.stream.events import Event
from monitor.domain.stream.lifecycle import Measurement
from monitor.domain.stream.queues import Queue
from monitor.domain.stream.window import COUNT_FIELDS, WindowAcc, window_start
from monitor.stages.interactions.outputs import BatchResult

_IDX = {name: i for i, name in enumerate(COUNT_FIELDS)}
_ANSWERED, _ANSWERED_IN_TARGET = _IDX["answered"], _IDX["answered_within_target"]
_ABANDONED, _SHORT_ABANDONED = _IDX["abandoned"], _IDX["short_abandoned"]
_RESOLVED, _RESOLVED_IN_TARGET = _IDX["resolved"], _IDX["resolved_within_target"]


def measure(out: BatchResult, q: Queue, m: Measurement, window_ms: int) -> None:
    """Count ``m`` in the partial of its queue and window, and keep its duration for the
    Prometheus histograms."""
    key = (q, window_start(m.ts_ms, window_ms))
    acc = out.partials.get(key)
    if acc is None:
        acc = out.partials[key] = WindowAcc()
    acc.measured += 1
    n = acc.counts
    kind, value = m.kind, m.value_ms
    if kind == "answered":
        n[_ANSWERED] += 1
        if value <= q.first_response_target_ms:
            n[_ANSWERED_IN_TARGET] += 1
        acc.first_response.add(value)
        out.first_response_ms.setdefault(q, []).append(value)
    elif kind == "abandoned":
        n[_ABANDONED if value > q.short_abandon_ms else _SHORT_ABANDONED] += 1
    elif kind == "resolved":
        n[_RESOLVED] += 1
        if value <= q.resolution_target_ms:
            n[_RESOLVED_IN_TARGET] += 1
        acc.resolution.add(value)
        out.resolution_ms.setdefault(q, []).append(value)
    else:  # opened, failed, reopened
        n[_IDX[kind]] += 1


def measure_survey(out: BatchResult, q: Queue, e: Event, window_ms: int) -> None:
    """Count the survey of a ``feedback`` event in the partial of its queue and window."""
    assert e.feedback is not None
    key = (q, window_start(e.ts_ms, window_ms))
    acc = out.partials.get(key)
    if acc is None:
        acc = out.partials[key] = WindowAcc()
    acc.measured += 1
    sums = acc.feedback
    if sums is None:
        sums = acc.feedback = [0] * feedback.SIZE
    feedback.add(sums, e.feedback)
