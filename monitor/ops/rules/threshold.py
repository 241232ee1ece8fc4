"""Threshold alerts in Prometheus: they follow the stream's decision (``sqm_alert_active``).

The stream evaluates SPEC 5.1 exactly, in event time; Prometheus only routes what it decided, so
the two never disagree. One alerting rule per ``[[alerts]]`` entry and severity. Through a scrape
gap (a worker restarting) the last state holds for ``HOLD``: a SIGKILL must not resolve a page and
fire it again. Once any worker exports the series again, its value decides at once.

``quality_index`` (``PERIOD_INDICATORS``) is decided the same way by the quality stage
(``sqm quality``) on each final quality period, and exported under the same name from its own
port: the rule is the same, only the descriptions count periods instead of windows.

Queues (SPEC 9): an entry with ``queues`` follows the queues' series of ``sqm_alert_active``
(``queue!=""``, or the listed names), so its alerts carry ``queue``; an entry without follows the
channel's series (``queue=""``), so its alerts carry none. Aggregation and the hold's ``unless``
match on ``queue`` too: one queue's fresh series never ends another queue's hold. A queue entry's
rules also carry the static label ``scope="queue"``: the channel's and the queues' rules of one
indicator share a name and a severity, and promtool's lint refuses two rules whose name and
static labels are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config import Config
from monitor.config.alerts import ALL_QUEUES, PERIOD_INDICATORS, AlertConfig, Threshold, multiple
from monitor.ops.rules.names import (
    ANY_QUEUE,
    CHANNEL_ONLY,
    HOLD,
    Not,
    alert_name,
    anchor,
    selector,
)

CHANNEL = "{{ $labels.channel }}"
QUEUE = "{{ $labels.queue }}"
#: What ``sqm_alert_active`` is aggregated by (over the workers) and matched on: one state
#: machine each (``queue`` absent for a channel alert).
LABELS = "channel, queue, indicator, severity"
#: What counts as a window's volume, per indicator (SPEC 5.1), for the descriptions.
VOLUME = {
    "service_level": "answered + abandoned",
    "abandonment_rate": "answered + abandoned",
    "resolution_rate": "resolved + failed",
    "on_time_resolution_rate": "resolved",
    "reopen_rate": "resolved",
    "first_response_p90_s": "answered",
    "csat_mean": "csat_responses",
    "nps": "nps_responses",
}
WORDS = {
    "service_level": "service level",
    "abandonment_rate": "abandonment rate",
    "resolution_rate": "resolution rate",
    "on_time_resolution_rate": "on-time resolution rate",
    "reopen_rate": "reopen rate",
    "first_response_p90_s": "first response time (p90)",
    "oldest_wait_s": "oldest wait",
    "backlog_waiting": "waiting backlog",
    "no_data": "input",
    "csat_mean": "CSAT mean",
    "nps": "NPS",
    "quality_index": "quality index",
}


@dataclass(frozen=True, slots=True)
class Subject:
    """What an entry's alerts are about, as the annotations name it."""

    #: ``chat`` or ``chat/billing`` (the summary's head, the record key's start)
    key: str
    #: ``chat`` or ``queue billing of chat`` (in a sentence)
    noun: str
    #: whose ``first_response_target_s`` an ``"Nx"`` threshold multiplies
    owner: str


CHANNEL_SUBJECT = Subject(CHANNEL, CHANNEL, "channel")
QUEUE_SUBJECT = Subject(f"{CHANNEL}/{QUEUE}", f"queue {QUEUE} of {CHANNEL}", "queue")


def subject(a: AlertConfig) -> Subject:
    return QUEUE_SUBJECT if a.queues else CHANNEL_SUBJECT


def queue_matcher(a: AlertConfig) -> str | Not | tuple[str, ...]:
    """The ``queue`` values of an entry's series: none (the channel's), any, or those listed."""
    if not a.queues:
        return CHANNEL_ONLY
    if a.queues == (ALL_QUEUES,):
        return ANY_QUEUE
    return a.queues


def threshold_rules(cfg: Config) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in cfg.alerts:
        for severity, threshold in (("warning", a.warning), ("critical", a.critical)):
            if threshold is not None:
                out.append(_rule(cfg, a, severity))
    return out


def _rule(cfg: Config, a: AlertConfig, severity: str) -> dict[str, Any]:
    name = alert_name(a.indicator, a.op)
    channels = None if set(a.channels) == set(cfg.channel_names) else a.channels
    sel = selector(indicator=a.indicator, severity=severity, channel=channels,
                   queue=queue_matcher(a))
    by = f"max by ({LABELS})"
    expr = (f"{by} (sqm_alert_active{sel}) == 1\nor\n(\n"
            f"  {by} (last_over_time(sqm_alert_active{sel}[{HOLD}])) == 1\n"
            f"  unless on ({LABELS}) sqm_alert_active{sel}\n)\n")
    return {
        "alert": name,
        "expr": expr,
        "labels": {"severity": severity, **({"scope": "queue"} if a.queues else {})},
        "annotations": {
            "summary": _summary(a, severity),
            "description": _description(cfg, a, severity),
            "runbook_url": f"{cfg.rules.runbook_url}#{anchor(name)}",
        },
    }


def _condition(a: AlertConfig, t: Threshold | None) -> str:
    if a.indicator == "no_data":
        return "no opened events"
    side = "below" if a.op == "<" else "above"
    n = multiple(t)
    if n is not None:
        return f"{side} {n:g}x the {subject(a).owner}'s first response target"
    assert isinstance(t, float)
    unit = " s" if a.indicator.endswith("_s") else ""
    return f"{side} {t:g}{unit}"


def _summary(a: AlertConfig, severity: str) -> str:
    key = subject(a).key
    if a.indicator == "no_data":
        return f"{key}: no contacts opened for {a.for_windows} windows"
    threshold = a.critical if severity == "critical" else a.warning
    return f"{key}: {WORDS[a.indicator]} {_condition(a, threshold)} ({severity})"


def _streak(n: int, unit: str) -> str:
    """``2 consecutive 60 s windows``; ``the last 3600 s quality period`` for one."""
    return f"the last {unit}" if n == 1 else f"{n} consecutive {unit}s"


def _healthy(n: int, unit: str) -> str:
    return f"one healthy {unit}" if n == 1 else f"{n} healthy {unit}s"


def _description(cfg: Config, a: AlertConfig, severity: str) -> str:
    period = a.indicator in PERIOD_INDICATORS
    unit = "period" if period else "window"
    span = f"{cfg.quality.period_s} s quality {unit}" if period else f"{cfg.window_s} s {unit}"
    about = subject(a)
    key = f"{about.key}/{a.indicator}"
    if a.indicator == "no_data":
        noun = about.noun[:1].upper() + about.noun[1:]
        head = (f"{noun} had opened events in the previous 60 windows but none in "
                f"{_streak(a.for_windows, span)}: the source may be down or the {about.owner} "
                "closed.")
    else:
        head = _breach(a, severity, _streak(a.for_windows, span))
    who = "by the quality stage (sqm quality) on each final period," if period else "in the stream"
    return (f"{head} It resolves after {_healthy(a.clear_windows, unit)}. Decided {who} in "
            f"event time; the episode is on sqm.alerts.v1, key {key}.")


def _breach(a: AlertConfig, severity: str, streak: str) -> str:
    """What has breached for how long, the volume guard and the other severity's threshold."""
    threshold = a.critical if severity == "critical" else a.warning
    other = a.warning if severity == "critical" else a.critical
    head = (f"The {WORDS[a.indicator]} of {subject(a).noun} has been "
            f"{_condition(a, threshold)} in {streak}")
    if a.indicator in VOLUME:
        head += (f" with at least {a.min_volume} ({VOLUME[a.indicator]}) each; smaller "
                 "windows leave the alert as it is")
    head += "."
    if other is not None:
        head += f" The {'warning' if severity == 'critical' else 'critical'} threshold: "
        head += f"{_condition(a, other)}."
    return head
