"""The report's sections as text cells: one source for the HTML and the Markdown variant.

Each builder takes the ``Report`` and lays its figures out with ``fmt``; none computes a figure.
The queue section (SPEC 9) is there only when the report lists queues (``Report.queues``), and
the alert section names queues only when a queue alert is in the range: a report on channels
without queues reads as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from monitor.domain.quality.index import DIMENSIONS
from monitor.domain.report.attainment import Attainment, Budget, Target
from monitor.domain.report.review import ANCHOR_ALERTS, ANCHOR_ATTAINMENT, ANCHOR_GAPS, Episode
from monitor.report.fmt import (
    NA,
    OPS,
    count,
    duration_ms,
    duration_s,
    met,
    num,
    pct,
    signed,
    value,
    when,
)
from monitor.report.model import Report

#: the anchor of the queue section (SPEC 9)
ANCHOR_QUEUES: Final = "queues"


class Table(NamedTuple):
    """A table as text cells: both renderers print the same cells, HTML only adds colour."""

    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    caption: str = ""


class Section(NamedTuple):
    """One report section: its anchor (what findings link to), heading, lines of text, tables
    and the chart key (``charts.CHARTS``) drawn for it in the HTML variant."""

    anchor: str
    title: str
    lines: list[str]
    tables: list[Table]
    chart: str | None = None


def _summary(r: Report) -> Section:
    lines = [f"Range: {when(r.from_ms)} to {when(r.to_ms)} (end excluded)",
             f"Channels: {', '.join(r.channels) or NA}",
             f"Windows of {duration_s(r.window_s)} read per channel: {count(r.windows)}; "
             f"quality period {duration_s(r.period_s)}, weights: {r.method}",
             f"Generated at {when(r.generated_at_ms)}"]
    head = ("Channel", "Opened", "Offered", "Answered in target", "Abandoned", "Resolved",
            "Failed", "Reopened")
    sums = [*r.sums.items(), ("all channels", r.overall)] if r.sums else []
    rows = [(ch, count(c.opened), count(c.offered), count(c.answered_within_target),
             count(c.abandoned), count(c.resolved), count(c.failed), count(c.reopened))
            for ch, c in sums]
    return Section("summary", "Summary", lines, [Table(head, rows)])


def _objective(t: Target) -> str:
    if t.kind == "time":
        return f"within {duration_s(t.limit_s)}"
    return f"{OPS.get(t.op, t.op)} {value(t.indicator, t.target)}"


def _target_cells(t: Target) -> tuple[str, ...]:
    return (t.kind, t.what, _objective(t), value(t.indicator, t.actual), count(t.volume),
            met(t.met))


_TARGET_HEAD: Final = ("Kind", "Target", "Objective", "Actual", "Volume", "Status")


def _targets(r: Report) -> Section:
    head = ("Channel", *_TARGET_HEAD)
    rows = [(t.channel, *_target_cells(t)) for t in r.targets]
    return Section("targets", "Targets against actuals", [
        "Actuals from the period's sums (volume-weighted); a time target's actual is the share "
        "of contacts within it."], [Table(head, rows)], "service_level")


def _attainment_cells(a: Attainment) -> tuple[str, ...]:
    return (a.indicator, f"{a.severity} {OPS.get(a.op, a.op)} {value(a.indicator, a.threshold)}",
            count(a.windows), count(a.met), count(a.skipped), pct(a.share), count(a.volume))


_ATTAINMENT_HEAD: Final = ("Indicator", "Threshold", "Windows", "Met", "Skipped", "Share met",
                           "Volume")


def _attainment(r: Report) -> Section:
    head = ("Channel", *_ATTAINMENT_HEAD)
    rows = [(a.channel, *_attainment_cells(a)) for a in r.attainment]
    return Section(ANCHOR_ATTAINMENT, "SLA attainment", [
        "Share of windows that met each threshold, judged as the stream's alerts judge them."],
        [Table(head, rows)], "attainment")


def _budget_cells(b: Budget) -> tuple[str, ...]:
    return (pct(b.objective), count(b.good), count(b.total), count(b.bad), num(b.allowed_bad, 1),
            pct(b.spent))


_BUDGET_HEAD: Final = ("Objective", "Good", "Total", "Bad", "Allowed bad", "Spent")


def _budgets(r: Report) -> Section:
    head = ("SLO", "Channel", *_BUDGET_HEAD)
    rows = [(b.slo, b.channel, *_budget_cells(b)) for b in r.budgets]
    return Section("budgets", "Error budgets", ["100% is the whole budget; above is overspent."],
                   [Table(head, rows)])


#: the Queue cell of an alert on a channel's roll-up, beside queue alerts
WHOLE_CHANNEL: Final = "whole channel"


def _episode_cells(e: Episode) -> tuple[str, ...]:
    return (e.indicator, e.worst_severity, when(e.since_ms),
            when(e.resolved_ms) if e.resolved_ms is not None else "open",
            duration_ms(e.duration_ms), duration_ms(e.time_to_resolve_ms))


def _alerts(r: Report) -> Section:
    """Episodes and alert time; with queue alerts in the range, a Queue column and the alert time
    per queue (a queue's alerts never count as its channel's alert time)."""
    head: tuple[str, ...] = ("Channel", "Indicator", "Worst severity", "Since", "Resolved",
                             "Duration in range", "Time to resolve")
    per_channel = [(ch, duration_ms(ms)) for ch, ms in r.alert_time_ms.items()]
    if not any(e.queue is not None for e in r.episodes):
        rows = [(e.channel, *_episode_cells(e)) for e in r.episodes]
        return Section(ANCHOR_ALERTS, "Alerts", [], [
            Table(head, rows, "Episodes"),
            Table(("Channel", "Alert time"), per_channel, "Alert time per channel")])
    rows = [(e.channel, WHOLE_CHANNEL if e.queue is None else e.queue, *_episode_cells(e))
            for e in r.episodes]
    per_queue = [(ch, q, duration_ms(ms)) for (ch, q), ms in r.queue_alert_time_ms.items()]
    return Section(ANCHOR_ALERTS, "Alerts", [
        "A queue's alerts count in its own alert time, not in its channel's: the channel's is "
        "the time its own (whole channel) alerts were firing."], [
        Table((head[0], "Queue", *head[1:]), rows, "Episodes"),
        Table(("Channel", "Alert time"), per_channel, "Alert time per channel"),
        Table(("Channel", "Queue", "Alert time"), per_queue, "Alert time per queue")])


def _queues(r: Report) -> Section | None:
    """Per queue of the channels that declare queues: its targets and its SLA attainment, queues
    under their channel; None when the report lists no queue."""
    if not r.queues:
        return None
    targets = [(t.channel, t.queue or "", *_target_cells(t)) for t in r.queue_targets]
    attained = [(a.channel, a.queue or "", *_attainment_cells(a)) for a in r.queue_attainment]
    tables = [Table(("Channel", "Queue", *_TARGET_HEAD), targets, "Targets per queue"),
              Table(("Channel", "Queue", *_ATTAINMENT_HEAD), attained, "SLA attainment per queue")]
    if r.queue_budgets:  # only SLOs with by = ["queue"] have them
        tables.append(Table(("SLO", "Channel", "Queue", *_BUDGET_HEAD),
                            [(b.slo, b.channel, b.queue or "", *_budget_cells(b))
                             for b in r.queue_budgets], "Error budgets per queue"))
    listed = "; ".join(f"{ch}: {', '.join(names)}" for ch, names in r.queues.items())
    return Section(ANCHOR_QUEUES, "Queues", [
        f"Queues: {listed}.",
        "Each queue is judged as a channel is, over its own windows (from its first window with "
        "an event): against its own targets, and against its own alert rule of an indicator "
        "where it has one, else the channel's (a threshold given as a multiple of the target, "
        "such as 2x, is taken of the queue's target). \"other\" holds the queues the "
        "configuration does not declare."], tables)


def _quality(r: Report) -> Section:
    head = ("Channel", "Periods", "Mean", "First", "Last", "Change", "Trend (points/day)")
    rows = [(ch, count(len(t.periods)), num(t.mean, 1), num(t.first, 1), num(t.last, 1),
             signed(t.change, 1), signed(t.slope_per_day, 2)) for ch, t in r.trends.items()]
    return Section("quality", "Quality index", [
        f"Index 0..100 per {duration_s(r.period_s)} period, weights: {r.method}. Change: last "
        "minus first period; trend: least-squares slope, over a range of a day or more."],
        [Table(head, rows)], "quality")


def _gaps(r: Report) -> Section:
    head = ("Channel", *DIMENSIONS)
    table = [*r.gaps.per_channel.items(), ("all channels", r.gaps.overall)] \
        if r.gaps.per_channel else []
    rows = [(ch, *(signed(g.get(d)) for d in DIMENSIONS)) for ch, g in table]
    return Section(ANCHOR_GAPS, "SERVQUAL gaps", [
        "Perceived minus expected, on -6..6: below 0 falls short of expectations."],
        [Table(head, rows)], "gaps")


#: what each compared score is, as a row label: every score is on 0..1 with higher better, so
#: the rates where lower is better appear as their complement (SPEC 7.2)
SCORE_LABELS: Final = {
    "service_level": "service level",
    "abandonment_rate": "1 \u2212 abandonment rate",
    "resolution_rate": "resolution rate",
    "on_time_resolution_rate": "on-time resolution rate",
    "reopen_rate": "1 \u2212 reopen rate",
    "csat_mean": "CSAT score (mean \u2212 1) / 4",
    "nps": "NPS score (NPS + 100) / 200",
    "servqual_gap": "SERVQUAL score",
    "quality_index": "quality index (0..100)",
}


def _consistency(r: Report) -> Section:
    head = ("Score", "Mean", "Std dev", "CV", "Best", "Worst")
    rows = [(SCORE_LABELS.get(name, name), num(s.mean, 3), num(s.stddev, 3), num(s.cv, 3),
             s.best_channel, s.worst_channel) for name, s in r.spread.items() if s is not None]
    return Section("consistency", "Cross-channel consistency", [
        "Spread of each score across the channels over the range: scores on 0..1, higher is "
        "better (so a rate where lower is better appears as 1 \u2212 rate), the index on 0..100."],
        [Table(head, rows)])


def _worst_hours(r: Report) -> Section:
    head = ("Hour", "Channel", "Service level", "Answered in target", "Offered")
    rows = [(when(h.hour_start_ms), h.channel or "all channels", pct(h.service_level),
             count(h.answered_within_target), count(h.offered)) for h in r.worst_hours]
    return Section("worst-hours", "Worst hours", ["Lowest service level first."],
                   [Table(head, rows)])


def sections(r: Report) -> list[Section]:
    """Every section, in reading order (the header and the findings come first, apart); the
    queue section follows the channels' attainment, when there is one."""
    built = [f(r) for f in (_summary, _targets, _attainment, _queues, _budgets, _alerts, _quality,
                            _gaps, _consistency, _worst_hours)]
    return [s for s in built if s is not None]
