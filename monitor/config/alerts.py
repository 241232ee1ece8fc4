"""``[[alerts]]`` and ``[[slos]]`` of the configuration (SPEC sections 5.1 and 5.2).

One config decides every threshold, so the stream, Prometheus and the dashboards never disagree.
Absent tables give the shipped defaults. A bad entry stops start-up with a message naming the
key (``alerts[1].warning: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.config import check
from monitor.config.errors import ConfigError
from monitor.domain.report.attainment import SLO_INDICATORS

INDICATORS = ("service_level", "abandonment_rate", "resolution_rate", "on_time_resolution_rate",
              "reopen_rate", "first_response_p90_s", "oldest_wait_s", "backlog_waiting", "no_data",
              "csat_mean", "nps", "quality_index")
#: evaluated by the quality stage on each final period, not by stage two on each window
PERIOD_INDICATORS = ("quality_index",)
_ALERT_KEYS = frozenset({"indicator", "channels", "queues", "op", "warning", "critical",
                         "for_windows", "clear_windows", "min_volume"})
_SLO_KEYS = frozenset({"name", "indicator", "channels", "objective", "period_days", "min_events",
                       "by"})
#: ``queues = ["*"]``: every queue of each of the rule's channels (declared ones and ``other``)
ALL_QUEUES = "*"
_MULTIPLE = re.compile(r"^(\d+(?:\.\d+)?)x$")
_SLO_NAME = re.compile(r"^[a-z0-9_]+$")

#: Threshold: a number in the indicator's unit, or ``"Nx"`` (N times the channel's
#: ``first_response_target_s``; ``*_s`` indicators only).
Threshold = float | str


@dataclass(frozen=True, slots=True)
class AlertConfig:
    indicator: str
    channels: tuple[str, ...]
    op: str
    warning: Threshold | None
    critical: Threshold | None
    for_windows: int = 2
    clear_windows: int = 2
    min_volume: int = 10
    #: SPEC 9: the queues this rule evaluates (``("*",)``: all of them); empty: the channel
    #: roll-up only. A rule evaluates one or the other: alerting on both takes two rules.
    queues: tuple[str, ...] = ()

    def queues_of(self, labels: Sequence[str]) -> tuple[str, ...]:
        """The queues this rule evaluates on a channel whose queue labels are ``labels``."""
        if self.queues == (ALL_QUEUES,):
            return tuple(labels)
        return tuple(q for q in self.queues if q in labels)


@dataclass(frozen=True, slots=True)
class SloConfig:
    name: str
    indicator: str
    channels: tuple[str, ...]
    objective: float
    period_days: int = 30
    min_events: int = 10
    #: ``("queue",)``: one SLO per queue of each channel (SPEC 9); empty: per channel
    by: tuple[str, ...] = ()


DEFAULT_ALERTS: tuple[dict[str, Any], ...] = (
    {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6},
    {"indicator": "abandonment_rate", "op": ">", "warning": 0.10, "critical": 0.20},
    {"indicator": "resolution_rate", "op": "<", "warning": 0.90, "critical": 0.80},
    {"indicator": "oldest_wait_s", "op": ">", "warning": "2x", "critical": "4x"},
    # 1 for a window without opened events after some in the previous 60 windows
    {"indicator": "no_data", "op": ">", "warning": 0, "for_windows": 10},
)
DEFAULT_SLOS: tuple[dict[str, Any], ...] = (
    {"name": "answered_in_time", "indicator": "service_level", "objective": 0.8},
)



def multiple(threshold: Threshold | None) -> float | None:
    """N of an ``"Nx"`` threshold, None for a number."""
    if isinstance(threshold, str):
        m = _MULTIPLE.match(threshold)
        assert m is not None, "validated at load"
        return float(m.group(1))
    return None


def parse_alerts(raw: Any, channels: Sequence[str],
                 queue_labels: Mapping[str, Sequence[str]] | None = None
                 ) -> tuple[AlertConfig, ...]:
    """The ``[[alerts]]`` array (None: the shipped defaults). ``queue_labels``: each channel's
    queues (declared and ``other``), which ``queues`` may name (None: none declared)."""
    entries = _array("alerts", DEFAULT_ALERTS if raw is None else raw)
    labels = queue_labels or {}
    alerts = tuple(_alert(f"alerts[{i}]", e, channels, labels) for i, e in enumerate(entries))
    seen: set[tuple[str, str, str]] = set()
    for i, a in enumerate(alerts):
        for ch in a.channels:
            for q in a.queues_of(labels.get(ch, ())) if a.queues else ("",):
                # one state machine per (channel, queue, indicator)
                if (ch, q, a.indicator) in seen:
                    what = f"{ch}/{q}" if q else ch
                    raise ConfigError(f"alerts[{i}]: a second {a.indicator} alert for {what}")
                seen.add((ch, q, a.indicator))
    return alerts


def parse_slos(raw: Any, channels: Sequence[str]) -> tuple[SloConfig, ...]:
    """The ``[[slos]]`` array (None: the shipped default)."""
    entries = _array("slos", DEFAULT_SLOS if raw is None else raw)
    slos = tuple(_slo(f"slos[{i}]", e, channels) for i, e in enumerate(entries))
    names = [s.name for s in slos]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"slos[{i}].name: {name!r} is used twice")
    return slos


def _array(name: str, entries: Any) -> Sequence[Any]:
    if not isinstance(entries, list | tuple):
        raise ConfigError(f"{name}: expected an array of tables ([[{name}]])")
    return entries


def _choice(key: str, value: Any, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{key}: unknown {what} {value!r} (one of {', '.join(allowed)})")
    return str(value)


def _channels(key: str, value: Any, channels: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(channels)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: expected a non-empty list of configured channels")
    for ch in value:
        if ch not in channels:
            raise ConfigError(f"{key}: {ch!r} is not a configured channel")
    return tuple(value)


def _threshold(key: str, value: Any, indicator: str) -> Threshold | None:
    if value is None:
        return None
    if isinstance(value, str):
        if not _MULTIPLE.match(value):
            raise ConfigError(f"{key}: expected a number or \"Nx\", got {value!r}")
        if not indicator.endswith("_s"):
            raise ConfigError(f"{key}: \"Nx\" is for *_s indicators, not {indicator}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _queues(key: str, value: Any, channels: tuple[str, ...],
            labels: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """``queues``: ``["*"]``, or queues each of the rule's channels has."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(q, str) for q in value):
        raise ConfigError(f"{key}: expected a non-empty list of queue names, or [\"*\"]")
    if value == [ALL_QUEUES]:
        return (ALL_QUEUES,)
    for q in value:
        for ch in channels:
            if q not in labels.get(ch, ()):
                have = ", ".join(labels.get(ch, ())) or "none"
                raise ConfigError(f"{key}: {q!r} is not a queue of channel {ch!r} (its queues: "
                                  f"{have}); name the rule's channels with channels = [...]")
    return tuple(value)


def _alert(where: str, entry: Any, channels: Sequence[str],
           labels: Mapping[str, Sequence[str]]) -> AlertConfig:
    e = check.table(where, entry, _ALERT_KEYS)
    indicator = _choice(f"{where}.indicator", e.get("indicator"), INDICATORS, "indicator")
    op = _choice(f"{where}.op", e.get("op"), ("<", ">"), "op")
    warning = _threshold(f"{where}.warning", e.get("warning"), indicator)
    critical = _threshold(f"{where}.critical", e.get("critical"), indicator)
    if warning is None and critical is None:
        raise ConfigError(f"{where}: needs warning, critical or both")
    _check_sides(where, op, warning, critical)
    chans = _channels(f"{where}.channels", e.get("channels"), channels)
    queues = _queues(f"{where}.queues", e.get("queues"), chans, labels)
    if queues and indicator in PERIOD_INDICATORS:
        raise ConfigError(f"{where}.queues: {indicator} is per channel (the quality stage has no "
                          "queues)")
    return AlertConfig(
        indicator=indicator, channels=chans, queues=queues,
        op=op, warning=warning, critical=critical,
        for_windows=check.integer(f"{where}.for_windows", e.get("for_windows", 2), 1),
        clear_windows=check.integer(f"{where}.clear_windows", e.get("clear_windows", 2), 1),
        min_volume=check.integer(f"{where}.min_volume", e.get("min_volume", 10), 0),
    )


def _check_sides(where: str, op: str, warning: Threshold | None, critical: Threshold | None) -> None:
    """Critical must be the worse side of warning: below it for ``<``, above it for ``>``."""
    if warning is None or critical is None:
        return
    if isinstance(warning, str) != isinstance(critical, str):
        raise ConfigError(f"{where}.critical: give warning and critical both as numbers "
                               "or both as \"Nx\"")
    w = multiple(warning) if isinstance(warning, str) else warning
    c = multiple(critical) if isinstance(critical, str) else critical
    assert w is not None and c is not None
    if (op == "<" and c > w) or (op == ">" and c < w):
        side = "above" if op == "<" else "below"
        raise ConfigError(f"{where}.warning: {warning!r} is {side} critical {critical!r}; "
                               f"with op {op!r} warning must come before critical")


def _slo(where: str, entry: Any, channels: Sequence[str]) -> SloConfig:
    e = check.table(where, entry, _SLO_KEYS)
    name = e.get("name")
    if not isinstance(name, str) or not _SLO_NAME.match(name):
        raise ConfigError(f"{where}.name: expected [a-z0-9_]+, got {name!r}")
    objective = e.get("objective")
    if isinstance(objective, bool) or not isinstance(objective, int | float) or not 0 < objective < 1:
        raise ConfigError(f"{where}.objective: expected a number between 0 and 1, "
                               f"got {objective!r}")
    return SloConfig(
        name=name,
        indicator=_choice(f"{where}.indicator", e.get("indicator"), SLO_INDICATORS, "indicator"),
        channels=_channels(f"{where}.channels", e.get("channels"), channels),
        objective=float(objective),
        period_days=check.integer(f"{where}.period_days", e.get("period_days", 30), 1),
        min_events=check.integer(f"{where}.min_events", e.get("min_events", 10), 0),
        by=_by(f"{where}.by", e.get("by")),
    )


def _by(key: str, value: Any) -> tuple[str, ...]:
    if value is None or value == []:
        return ()
    if value != ["queue"]:
        raise ConfigError(f"{key}: expected [\"queue\"] (one SLO per queue), got {value!r}")
    return ("queue",)
