"""The period figures of ``sqm report`` (SPEC section 8), part 1: targets against their actuals,
SLA attainment, error budgets and the worst hours, from the final windows of a time range.

Pure domain: ``Indicators`` (one per channel and window, as ``sqm.indicators.v1`` carries them,
or one per queue and window, as ``sqm.queues.v1`` does: SPEC 9), threshold ``Rule``s, SLOs and
channel (or queue) targets in; plain structs out. A period's actual comes from the period's
integer sums (windows are added up first), never from an average of window ratios: a busy window
weighs as much as its traffic and an empty one not at all, so the report agrees with the counters
Prometheus sums. SLA attainment is the one figure that is per window by nature (the share of
windows that met a threshold), and it judges each window exactly as the stream's threshold alerts
do (``value_of``, ``volume_of``, ``min_volume``). A queue is judged by the same functions as a
channel (``queue_targets``, ``queue_attainment``), with its own targets and rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec

from monitor.domain.alerts import CRITICAL, WARNING, Rule, breaches, value_of, volume_of
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.params import ChannelParams

HOUR_MS: Final = 3_600_000
#: Threshold-rule indicators that are ratios (or means) of counts, so a period value follows from
#: the period's sums; the others (``first_response_p90_s``, ``oldest_wait_s``, ``backlog_waiting``,
#: ``no_data``) have no period value and only appear in SLA attainment.
RATIO_INDICATORS: Final = ("service_level", "abandonment_rate", "resolution_rate",
                           "on_time_resolution_rate", "reopen_rate", "csat_mean", "nps")
#: SLO indicators (SPEC 5.2).
SLO_INDICATORS: Final = ("service_level", "on_time_resolution", "resolution")
#: Threshold-rule indicators without a ``min_volume`` guard (``volume_of`` gives them None).
UNGUARDED: Final = ("oldest_wait_s", "backlog_waiting", "no_data")


class Counts(msgspec.Struct, gc=False):
    """Integer sums of one channel over a period (or one window).

    Integers only, so adding windows is exact and order-independent. ``csat_sum`` and ``nps_net``
    (promoters minus detractors) are recovered from a window's mean and count: the record keeps
    only those, and both are integers in the stream, so rounding gives them back exactly.
    """

    opened: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    resolved: int = 0
    resolved_within_target: int = 0
    failed: int = 0
    reopened: int = 0
    csat_responses: int = 0
    csat_sum: int = 0
    nps_responses: int = 0
    nps_net: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other`` into this one, in place (a period accumulates its windows)."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def offered(self) -> int:
        """Contacts that reached an outcome of waiting: the service level's denominator."""
        return self.answered + self.abandoned


def counts_of(w: Indicators) -> Counts:
    """One window's counts."""
    return Counts(
        opened=w.opened, answered=w.answered, answered_within_target=w.answered_within_target,
        abandoned=w.abandoned, short_abandoned=w.short_abandoned, resolved=w.resolved,
        resolved_within_target=w.resolved_within_target, failed=w.failed, reopened=w.reopened,
        csat_responses=w.csat_responses,
        csat_sum=0 if w.csat_mean is None else round(w.csat_mean * w.csat_responses),
        nps_responses=w.nps_responses,
        nps_net=0 if w.nps is None else round(w.nps * w.nps_responses / 100),
    )


def distinct(windows: Iterable[Indicators]) -> list[Indicators]:
    """One record per (channel, queue, window), the last one read winning, in (channel, queue,
    start) order (a channel's own record, queue None, before its queues').

    A topic read at least once may hold a window twice (a producer retry); counting it twice
    would double its traffic in every figure.
    """
    latest = {(w.channel, w.queue or "", w.window_start_ms): w for w in windows}
    return [latest[k] for k in sorted(latest)]


def period_sums(windows: Iterable[Indicators]) -> dict[str, Counts]:
    """Per channel, the period's sums of its windows' counts (channels in sorted order). Only
    the channels' records count: a queue's record (SPEC 9) is already in its channel's."""
    out: dict[str, Counts] = {}
    for w in distinct(windows):
        if w.queue is None:
            out.setdefault(w.channel, Counts()).add(counts_of(w))
    return out


#: a queue, as the report keys it: (channel, queue name)
QueueKey = tuple[str, str]


def queue_sums(windows: Iterable[Indicators]) -> dict[QueueKey, Counts]:
    """Per (channel, queue) of the queue records among ``windows``, the period's sums (in
    (channel, queue) name order); channel records (queue None) are left out."""
    out: dict[QueueKey, Counts] = {}
    for w in distinct(windows):
        if w.queue is not None:
            out.setdefault((w.channel, w.queue), Counts()).add(counts_of(w))
    return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def period_value(c: Counts, indicator: str) -> tuple[float | None, int]:
    """A ratio indicator over a period, from its sums, and its volume (the denominator, as the
    ``min_volume`` guard counts it); None when the denominator is 0."""
    parts: dict[str, tuple[float, int]] = {
        "service_level": (c.answered_within_target, c.offered),
        "abandonment_rate": (c.abandoned, c.offered),
        "resolution_rate": (c.resolved, c.resolved + c.failed),
        "on_time_resolution_rate": (c.resolved_within_target, c.resolved),
        "reopen_rate": (c.reopened, c.resolved),
        "csat_mean": (c.csat_sum, c.csat_responses),
        "nps": (100 * c.nps_net, c.nps_responses),
    }
    num, den = parts[indicator]
    return _ratio(num, den), den


# --- targets against actuals ---------------------------------------------------------------


class Slo(msgspec.Struct, frozen=True, gc=False):
    """One SLO for one channel (SPEC 5.2), or one queue of it (``by = ["queue"]``, SPEC 9), as
    the domain uses it: ``indicator`` is one of ``SLO_INDICATORS``; ``objective`` the share of
    good events promised, in (0, 1)."""

    name: str
    indicator: str
    channel: str
    objective: float
    queue: str | None = None


def slo_events(c: Counts, indicator: str) -> tuple[int, int]:
    """``(good, total)`` of an SLO indicator over a period (SPEC 5.2)."""
    if indicator == "service_level":
        return c.answered_within_target, c.offered
    if indicator == "on_time_resolution":
        return c.resolved_within_target, c.resolved
    if indicator == "resolution":
        return c.resolved, c.resolved + c.failed
    raise ValueError(f"unknown SLO indicator {indicator!r}")


class Target(msgspec.Struct, frozen=True, gc=False):
    """One target of one channel against its actual over the period.

    ``kind``: ``"time"`` (a channel's first-response or resolution target: ``limit_s`` is the time
    and ``actual`` the share of contacts within it; ``target`` and ``met`` are None, since the
    target itself promises no share: the SLO and threshold rows judge it), ``"slo"`` (``what`` is
    the SLO's name, ``target`` its objective) or ``"threshold"`` (``what`` is the rule's
    indicator, ``target`` its warning threshold, else its critical). ``op`` is what the actual
    must do to meet the target: ``">="``/``"<="`` for a time target, an SLO's ``">="``, or a
    rule's ``"<"``/``">"`` which are breached ("met" = not breached). ``actual`` is None when its
    denominator is 0, and then ``met`` too. ``volume`` is that denominator. ``queue``: the queue
    of a queue's target (SPEC 9); None for the channel's.
    """

    channel: str
    kind: str
    what: str
    indicator: str
    target: float | None
    limit_s: float | None
    op: str
    actual: float | None
    met: bool | None
    volume: int
    queue: str | None = None


def rule_threshold(rule: Rule) -> tuple[str, float]:
    """The threshold a period or a window is judged against: warning, else critical."""
    if rule.warning is not None:
        return WARNING, rule.warning
    assert rule.critical is not None, "a rule has at least one threshold"
    return CRITICAL, rule.critical


def _time_targets(channel: str, c: Counts, p: ChannelParams, queue: str | None) -> list[Target]:
    sl, offered = period_value(c, "service_level")
    on_time, resolved = period_value(c, "on_time_resolution_rate")
    return [
        Target(channel, "time", "first_response", "service_level", None,
               p.first_response_target_ms / 1000, "<=", sl, None, offered, queue),
        Target(channel, "time", "resolution", "on_time_resolution_rate", None,
               p.resolution_target_ms / 1000, "<=", on_time, None, resolved, queue),
    ]


def _slo_target(s: Slo, c: Counts) -> Target:
    good, total = slo_events(c, s.indicator)
    actual = _ratio(good, total)
    met = None if actual is None else actual >= s.objective
    return Target(s.channel, "slo", s.name, s.indicator, s.objective, None, ">=", actual, met, total,
                  s.queue)


def _rule_target(channel: str, rule: Rule, c: Counts, queue: str | None) -> Target:
    _, threshold = rule_threshold(rule)
    actual, volume = period_value(c, rule.indicator)
    met = None if actual is None else not breaches(rule.op, actual, threshold)
    return Target(channel, "threshold", rule.indicator, rule.indicator, threshold, None, rule.op,
                  actual, met, volume, queue)


def _targets_of(channel: str, queue: str | None, c: Counts, p: ChannelParams | None,
                rules: Sequence[Rule], slos: Iterable[Slo]) -> list[Target]:
    """One channel's or queue's rows: time targets (with ``p``), SLOs, ratio threshold rules."""
    out = [] if p is None else _time_targets(channel, c, p, queue)
    out.extend(_slo_target(s, c) for s in slos)
    out.extend(_rule_target(channel, r, c, queue) for r in rules if r.indicator in RATIO_INDICATORS)
    return out


def _channels(*maps: Mapping[str, object]) -> list[str]:
    """The channels any input names, in first-seen order (the config's order when it comes
    first)."""
    return list(dict.fromkeys(ch for m in maps for ch in m))


def targets(sums: Mapping[str, Counts], channel_params: Mapping[str, ChannelParams],
            rules: Mapping[str, Sequence[Rule]], slos: Sequence[Slo]) -> list[Target]:
    """Per channel: its time targets, its SLOs and its threshold rules on ratio indicators, each
    against the period's actual from ``sums`` (a channel without windows has no actual).

    Threshold rules on ``*_s``, backlog or ``no_data`` indicators are left out: a period has no
    value for them (see ``attainment``)."""
    out: list[Target] = []
    for ch in _channels(channel_params, rules, sums):
        out += _targets_of(ch, None, sums.get(ch, Counts()), channel_params.get(ch),
                           rules.get(ch, ()), (s for s in slos if s.channel == ch and s.queue is None))
    return out


def queue_targets(sums: Mapping[QueueKey, Counts], queue_params: Mapping[QueueKey, ChannelParams],
                  rules: Mapping[QueueKey, Sequence[Rule]], slos: Sequence[Slo]) -> list[Target]:
    """``targets`` per (channel, queue): each queue's time targets are its own (``queue_params``,
    the channel's where the config overrides none), its SLOs those with its queue (``by =
    ["queue"]``), its rules those it is judged by. Queues in first-seen order of the inputs."""
    out: list[Target] = []
    for key in dict.fromkeys(k for m in (queue_params, rules, sums) for k in m):
        ch, q = key
        out += _targets_of(ch, q, sums.get(key, Counts()), queue_params.get(key),
                           rules.get(key, ()), (s for s in slos if (s.channel, s.queue) == key))
    return out


# --- SLA attainment ------------------------------------------------------------------------


class Attainment(msgspec.Struct, frozen=True, gc=False):
    """The share of one channel's (or queue's) windows that met one threshold rule.

    ``severity``/``threshold``: the rule's warning, else its critical. ``windows``: windows
    counted (value present and volume at least ``min_volume``, as the stream counts them);
    ``skipped``: the others. ``share`` is ``met / windows``, None when none was counted.
    ``volume``: the counted windows' total volume; None for an indicator without a volume guard.
    ``queue``: the queue of a queue's row (SPEC 9); None for the channel's.
    """

    channel: str
    indicator: str
    severity: str
    threshold: float
    op: str
    windows: int
    met: int
    skipped: int
    share: float | None
    volume: int | None
    queue: str | None = None


def _attain(channel: str, rule: Rule, windows: Sequence[Indicators],
            queue: str | None = None) -> Attainment:
    severity, threshold = rule_threshold(rule)
    counted = met = total_volume = 0
    for w in windows:
        value, volume = value_of(w, rule.indicator), volume_of(w, rule.indicator)
        if value is None or (volume is not None and volume < rule.min_volume):
            continue
        counted += 1
        met += not breaches(rule.op, value, threshold)
        total_volume += volume or 0
    return Attainment(channel, rule.indicator, severity, threshold, rule.op, counted, met,
                      len(windows) - counted, _ratio(met, counted),
                      None if rule.indicator in UNGUARDED else total_volume, queue)


def attainment(windows: Iterable[Indicators], rules: Mapping[str, Sequence[Rule]]) -> list[Attainment]:
    """Per channel and threshold rule, the share of the channel's windows that met it (SLA
    attainment); queue records among ``windows`` are left to ``queue_attainment``.

    ``no_data`` is skipped: it is a property of a run of windows, not a window value.
    """
    by_channel: dict[str, list[Indicators]] = {}
    for w in distinct(windows):
        if w.queue is None:
            by_channel.setdefault(w.channel, []).append(w)
    return [_attain(ch, r, by_channel.get(ch, []))
            for ch, channel_rules in rules.items() for r in channel_rules if r.indicator != "no_data"]


def queue_attainment(windows: Iterable[Indicators],
                     rules: Mapping[QueueKey, Sequence[Rule]]) -> list[Attainment]:
    """``attainment`` per (channel, queue), over the queue records among ``windows``: a queue's
    windows run from its first one with an event (``sqm.queues.v1``), so a queue that started
    within the range is judged over its own windows only. Rows in ``rules`` order."""
    by_queue: dict[QueueKey, list[Indicators]] = {}
    for w in distinct(windows):
        if w.queue is not None:
            by_queue.setdefault((w.channel, w.queue), []).append(w)
    return [_attain(ch, r, by_queue.get((ch, q), []), q)
            for (ch, q), queue_rules in rules.items() for r in queue_rules
            if r.indicator != "no_data"]


# --- error budget --------------------------------------------------------------------------


class Budget(msgspec.Struct, frozen=True, gc=False):
    """The error budget of one SLO for one channel (or one queue: ``queue``) over the period.

    ``allowed_bad = (1 - objective) * total``; ``spent = bad / allowed_bad``: 1 is the whole
    budget, above 1 overspent. None when ``total`` is 0.
    """

    slo: str
    channel: str
    indicator: str
    objective: float
    good: int
    total: int
    bad: int
    allowed_bad: float
    spent: float | None
    queue: str | None = None


def _budget(s: Slo, c: Counts) -> Budget:
    good, total = slo_events(c, s.indicator)
    bad = total - good
    allowed = (1 - s.objective) * total
    if total == 0:
        spent: float | None = None
    elif allowed > 0:
        spent = bad / allowed
    else:  # objective 1 (the config refuses it): any bad event overspends without bound
        spent = math.inf if bad else 0.0
    return Budget(s.name, s.channel, s.indicator, s.objective, good, total, bad, allowed, spent,
                  s.queue)


def error_budget(sums: Mapping[str, Counts], slos: Sequence[Slo]) -> list[Budget]:
    """Per SLO (one per channel), the budget spent over the period, from the period's sums."""
    return [_budget(s, sums.get(s.channel, Counts())) for s in slos if s.queue is None]


def queue_error_budget(sums: Mapping[QueueKey, Counts], slos: Sequence[Slo]) -> list[Budget]:
    """``error_budget`` of the SLOs per queue (``by = ["queue"]``), from each queue's sums."""
    return [_budget(s, sums.get((s.channel, s.queue), Counts())) for s in slos
            if s.queue is not None]


# --- worst hours ---------------------------------------------------------------------------


class Hour(msgspec.Struct, frozen=True, gc=False):
    """One UTC hour (epoch-aligned) of one channel, or of all (``channel`` None), with its
    service level from the hour's sums."""

    channel: str | None
    hour_start_ms: int
    service_level: float
    answered_within_target: int
    offered: int


def worst_hours(windows: Iterable[Indicators], *, top: int, min_volume: int = 1,
                channel: str | None = None) -> list[Hour]:
    """The ``top`` hours with the lowest service level, lowest first, earlier first on a tie.

    ``channel`` None: all channels' windows summed per hour. Hours whose offered contacts
    (answered + abandoned) are fewer than ``min_volume`` are left out: a quiet hour with one late
    answer says little. A window belongs to the hour of its start. Channel records only (a
    queue's is already in its channel's).
    """
    hours: dict[int, Counts] = {}
    for w in distinct(windows):
        if w.queue is None and (channel is None or w.channel == channel):
            hours.setdefault(w.window_start_ms // HOUR_MS * HOUR_MS, Counts()).add(counts_of(w))
    rows = [Hour(channel, start, c.answered_within_target / c.offered, c.answered_within_target,
                 c.offered)
            for start, c in hours.items() if c.offered >= max(min_volume, 1)]
    rows.sort(key=lambda h: (h.service_level, h.hour_start_ms))
    return rows[:top]
