"""The period figures of ``sqm report`` that come from alerts and the quality stage (SPEC section 8):
alert episodes and their time, the quality index trend, SERVQUAL gaps, cross-channel consistency
over the report period, and the short "what to look at" list derived from them.

Pure domain: the report's reader decodes the records and hands over domain values
(``alerts.Transition``, ``QualityPoint``, ``quality.Sums``); nothing here knows a byte format.
Every result is deterministic for a given input, in whatever order the records arrive and however
often a record was re-emitted (a worker re-emits after a crash: SPEC section 3), so a report over
the same range always says the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec

from monitor.domain.alerts import CRITICAL, WARNING, Transition
from monitor.domain.quality.index import (
    DIMENSIONS,
    SCORES,
    Spread,
    Sums,
    consistency,
    quality_index,
    scores,
    servqual_gaps,
)

DAY_MS: Final = 86_400_000
#: the names compared across channels: every score and the index itself (as ``sqm.quality.v1``)
SPREAD_NAMES: Final = (*SCORES, "quality_index")
#: anchor ids of the report sections a finding links to
ANCHOR_GAPS: Final = "gaps"
ANCHOR_ATTAINMENT: Final = "attainment"
ANCHOR_ALERTS: Final = "alerts"

_RANK: Final = {WARNING: 1, CRITICAL: 2}


# --- alert episodes ----------------------------------------------------------------------------


class Episode(msgspec.Struct, frozen=True):
    """One alert episode (one ``alert_id``: channel, queue, indicator, since) as seen at the
    range end."""

    channel: str
    indicator: str
    #: the highest severity of the episode's records up to the range end
    worst_severity: str
    #: window start of the first breaching window (the episode's start; may precede the range)
    since_ms: int
    #: window end of the ``resolved`` record; None: still open at the range end
    resolved_ms: int | None
    #: time the episode was active inside [from, to): its [since, resolved or to) clipped
    duration_ms: int
    #: resolved - since; None while unresolved
    time_to_resolve_ms: int | None
    #: firing records that raised the severity (warning -> critical)
    escalations: int
    #: firing records that lowered it (critical -> warning)
    de_escalations: int
    #: the queue of a queue alert (SPEC 9); None: an alert on the channel's roll-up
    queue: str | None = None


def _order(t: Transition) -> tuple[int, int, int]:
    """Records of one episode in time order; at one window a ``resolved`` comes last."""
    return (t.window_end_ms, t.window_start_ms, 1 if t.state == "resolved" else 0)


def _episode(records: Sequence[Transition], from_ms: int, to_ms: int) -> Episode | None:
    """The episode of one alert_id's records (time-ordered, none after ``to_ms``); None
    when it did not overlap [from, to)."""
    first = records[0]
    resolved = next((t.window_end_ms for t in records if t.state == "resolved"), None)
    duration = (to_ms if resolved is None else resolved) - max(first.since_ms, from_ms)
    if duration <= 0:
        return None
    up = down = 0
    previous: str | None = None
    for t in records:
        if t.state == "firing" and previous is not None:
            up += _RANK.get(t.severity, 0) > _RANK.get(previous, 0)
            down += _RANK.get(t.severity, 0) < _RANK.get(previous, 0)
        previous = t.severity
    worst = max((t.severity for t in records), key=lambda s: _RANK.get(s, 0))
    return Episode(first.channel, first.indicator, worst, first.since_ms, resolved, duration,
                   None if resolved is None else resolved - first.since_ms, up, down, first.queue)


def episodes(transitions: Iterable[Transition], from_ms: int, to_ms: int) -> list[Episode]:
    """One ``Episode`` per alert_id active at some time in [from_ms, to_ms), ordered by since,
    channel, queue (a channel's own alert first) and indicator.

    Records whose window ends after ``to_ms`` are ignored: the report describes the range, so an
    episode resolved later is open at its end. A re-emitted record (a worker after a crash) doubles
    nothing: records group by episode, escalations count severity changes between consecutive
    records, and the time comes from since and the first ``resolved``.
    """
    by_id: dict[tuple[str, str, str, int], list[Transition]] = {}
    for t in transitions:
        if t.window_end_ms <= to_ms:
            by_id.setdefault((t.channel, t.queue or "", t.indicator, t.since_ms), []).append(t)
    out = []
    for ident in sorted(by_id, key=lambda k: (k[3], k[0], k[1], k[2])):
        found = _episode(sorted(by_id[ident], key=_order), from_ms, to_ms)
        if found is not None:
            out.append(found)
    return out


def _in_range(e: Episode, from_ms: int, to_ms: int) -> tuple[int, int]:
    """An episode's active interval clipped to [from_ms, to_ms) (empty: end <= start)."""
    return max(e.since_ms, from_ms), min(to_ms if e.resolved_ms is None else e.resolved_ms, to_ms)


def alert_time_by_channel(found: Iterable[Episode], from_ms: int, to_ms: int) -> dict[str, int]:
    """Per channel, the time in [from_ms, to_ms) during which at least one of its alerts was active:
    the union of its episodes' in-range intervals, so two indicators alerting at once count once
    (the channel was in trouble for that long, not twice as long). Channels in name order.

    Only the channel's own alerts (on its roll-up) count: a queue alert (SPEC 9) says one queue
    was in trouble, not the channel; it counts in ``alert_time_by_queue``."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for e in found:
        start, end = _in_range(e, from_ms, to_ms)
        if e.queue is None and end > start:
            spans.setdefault(e.channel, []).append((start, end))
    return {ch: _covered(spans[ch]) for ch in sorted(spans)}


def alert_time_by_queue(found: Iterable[Episode], from_ms: int,
                        to_ms: int) -> dict[tuple[str, str], int]:
    """``alert_time_by_channel`` of the queue alerts, per (channel, queue) in name order."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for e in found:
        start, end = _in_range(e, from_ms, to_ms)
        if e.queue is not None and end > start:
            spans.setdefault((e.channel, e.queue), []).append((start, end))
    return {key: _covered(spans[key]) for key in sorted(spans)}


def _covered(spans: list[tuple[int, int]]) -> int:
    """The length of the union of half-open intervals."""
    total, reach = 0, None
    for start, end in sorted(spans):
        if reach is None or start >= reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


# --- quality index trend -----------------------------------------------------------------------


class QualityPoint(msgspec.Struct, frozen=True):
    """The index of one channel and period, from a ``kind: channel`` record of ``sqm.quality.v1``."""

    channel: str
    period_start_ms: int
    period_end_ms: int
    quality_index: float | None


class Trend(msgspec.Struct, frozen=True):
    """One channel's quality index over the report range."""

    channel: str
    #: the distinct periods in time order (with or without an index)
    periods: list[QualityPoint]
    #: mean index of the periods that have one (each period weighs the same: it is one reading)
    mean: float | None
    #: the index of the first and of the last period that has one
    first: float | None
    last: float | None
    #: last - first: the change over the range; None under 2 indexed periods
    change: float | None
    #: least-squares slope, index points per day, by period start; None under 2 indexed periods
    #: or over a range shorter than a day (a slope per day would extrapolate a few hours' drift)
    slope_per_day: float | None


def _slope_per_day(xy: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares slope of y over x (ms), per day; None under 2 points or with one x only."""
    if len(xy) < 2:
        return None
    n = len(xy)
    x0 = xy[0][0]
    xs = [(x - x0) / DAY_MS for x, _ in xy]
    mx = math.fsum(xs) / n
    my = math.fsum(y for _, y in xy) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return math.fsum((x - mx) * (y - my) for x, (_, y) in zip(xs, xy, strict=True)) / sxx


def _trend(channel: str, periods: list[QualityPoint], range_ms: int) -> Trend:
    xy = [(p.period_start_ms, p.quality_index) for p in periods if p.quality_index is not None]
    values = [y for _, y in xy]
    return Trend(channel, periods, math.fsum(values) / len(values) if values else None,
                 values[0] if values else None, values[-1] if values else None,
                 values[-1] - values[0] if len(values) >= 2 else None,
                 _slope_per_day(xy) if range_ms >= DAY_MS else None)


def quality_trend(points: Iterable[QualityPoint], range_ms: int) -> dict[str, Trend]:
    """Per channel (in name order), its ``Trend`` over a range of ``range_ms``. A period recorded
    twice counts once (the first record kept: a re-emitted one carries the same values)."""
    by_channel: dict[str, dict[int, QualityPoint]] = {}
    for p in points:
        by_channel.setdefault(p.channel, {}).setdefault(p.period_start_ms, p)
    return {ch: _trend(ch, [periods[k] for k in sorted(periods)], range_ms)
            for ch, periods in sorted(by_channel.items())}


# --- SERVQUAL gaps -----------------------------------------------------------------------------


class Gap(msgspec.Struct, frozen=True):
    """One SERVQUAL gap (perceived mean - expected mean, -6..6): negative = below expectations."""

    channel: str
    dimension: str
    value: float


class GapTable(msgspec.Struct, frozen=True):
    """The report period's SERVQUAL gaps, from the period's sums."""

    #: channel -> dimension (``DIMENSIONS`` order) -> gap; None without responses
    per_channel: dict[str, dict[str, float | None]]
    #: the channels' sums added up: one gap per dimension over every response
    overall: dict[str, float | None]
    #: per channel its most negative gap; None without any response
    largest_by_channel: dict[str, Gap | None]
    #: the most negative gap of all channels (may be >= 0 when every channel meets expectations)
    largest: Gap | None


def _most_negative(channel: str, table: Mapping[str, float | None]) -> Gap | None:
    """The lowest gap; a tie keeps the dimension first in ``DIMENSIONS`` order."""
    best: Gap | None = None
    for dim in DIMENSIONS:
        v = table.get(dim)
        if v is not None and (best is None or v < best.value):
            best = Gap(channel, dim, v)
    return best


def gaps(sums_by_channel: Mapping[str, Sums]) -> GapTable:
    """Per channel and dimension, the period's gap; the largest (most negative) per channel and
    overall. Ties go to the channel first in name order."""
    per_channel = {ch: servqual_gaps(s) for ch, s in sorted(sums_by_channel.items())}
    total = Sums()
    for s in sums_by_channel.values():
        total.add(s)
    by_channel = {ch: _most_negative(ch, table) for ch, table in per_channel.items()}
    largest: Gap | None = None
    for g in by_channel.values():
        if g is not None and (largest is None or g.value < largest.value):
            largest = g
    return GapTable(per_channel, servqual_gaps(total), by_channel, largest)


# --- cross-channel consistency -----------------------------------------------------------------


def period_scores(sums_by_channel: Mapping[str, Sums],
                  weights: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
    """Per channel with volume (name order), its scores over the report period and, under
    ``"quality_index"``, the index from them with ``weights`` (the report's weights: with the
    entropy method the caller chooses which, since the stage recomputes them each period)."""
    out: dict[str, dict[str, float | None]] = {}
    for ch, s in sorted(sums_by_channel.items()):
        if not s.has_volume:
            continue
        sc = scores(s)
        out[ch] = {**sc, "quality_index": quality_index(sc, weights)}
    return out


def spread(sums_by_channel: Mapping[str, Sums],
           weights: Mapping[str, float]) -> dict[str, Spread | None]:
    """SPEC 7.3 over the whole report period: per score name and the index, the spread across the
    channels with volume, from the period's sums (not an average of the hourly spreads)."""
    return consistency(period_scores(sums_by_channel, weights), SPREAD_NAMES)


# --- what to look at ---------------------------------------------------------------------------


class Finding(msgspec.Struct, frozen=True):
    """One line of "what to look at", linking to the report section ``anchor``."""

    anchor: str
    channel: str
    #: the dimension (gaps), the indicator (attainment), "" (alerts)
    subject: str
    #: gap points (gaps), share of windows met (attainment), alert time in ms (alerts)
    value: float


#: (channel, indicator, share of windows that met the threshold; None without counted windows)
AttainmentRow = tuple[str, str, float | None]


def _largest_miss(rows: Iterable[AttainmentRow]) -> Finding | None:
    """The row with the lowest share met below 1; a tie keeps the first row."""
    worst: Finding | None = None
    for channel, indicator, share in rows:
        if share is not None and share < 1 and (worst is None or share < worst.value):
            worst = Finding(ANCHOR_ATTAINMENT, channel, indicator, share)
    return worst


def _most_alert_time(totals: Mapping[str, int]) -> Finding | None:
    """The channel with the most alert time above 0; a tie keeps the first in name order."""
    top = max(sorted(totals.items()), key=lambda kv: kv[1], default=None)
    if top is None or top[1] <= 0:
        return None
    return Finding(ANCHOR_ALERTS, top[0], "", top[1])


def what_to_look_at(largest_gap: Gap | None, attainment: Iterable[AttainmentRow],
                    alert_time: Mapping[str, int]) -> list[Finding]:
    """The largest SERVQUAL gap below expectations, the largest SLA miss and the most alert time,
    in that fixed order (the report reads the same every period); a finding with nothing behind it
    (no negative gap, every threshold always met, no alert time) is left out."""
    gap = None
    if largest_gap is not None and largest_gap.value < 0:
        gap = Finding(ANCHOR_GAPS, largest_gap.channel, largest_gap.dimension, largest_gap.value)
    found = (gap, _largest_miss(attainment), _most_alert_time(alert_time))
    return [f for f in found if f is not None]
