"""The report's sections as text cells: one source for the HTML and the Markdown variant.

Each builder takes the ``Report`` and lays its figures out with ``fmt``; none computes a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from monitor.domain.quality.index import DIMENSIONS
from monitor.domain.report.attainment import Target
from monitor.domain.report.review import ANCHOR_ALERTS, ANCHOR_ATTAINMENT, ANCHOR_GAPS
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


def _targets(r: Report) -> Section:
    head = ("Channel", "Kind", "Target", "Objective", "Actual", "Volume", "Status")
    rows = [(t.channel, t.kind, t.what, _objective(t), value(t.indicator, t.actual),
             count(t.volume), met(t.met)) for t in r.targets]
    return Section("targets", "Targets against actuals", [
        "Actuals from the period's sums (volume-weighted); a time target's actual is the share "
        "of contacts within it."], [Table(head, rows)], "service_level")


def _attainment(r: Report) -> Section:
    head = ("Channel", "Indicator", "Threshold", "Windows", "Met", "Skipped", "Share met",
            "Volume")
    rows = [(a.channel, a.indicator, f"{a.severity} {OPS.get(a.op, a.op)} "
             f"{value(a.indicator, a.threshold)}", count(a.windows), count(a.met),
             count(a.skipped), pct(a.share), count(a.volume)) for a in r.attainment]
    return Section(ANCHOR_ATTAINMENT, "SLA attainment", [
        "Share of windows that met each threshold, judged as the stream's alerts judge them."],
        [Table(head, rows)], "attainment")


def _budgets(r: Report) -> Section:
    head = ("SLO", "Channel", "Objective", "Good", "Total", "Bad", "Allowed bad", "Spent")
    rows = [(b.slo, b.channel, pct(b.objective), count(b.good), count(b.total), count(b.bad),
             num(b.allowed_bad, 1), pct(b.spent)) for b in r.budgets]
    return Section("budgets", "Error budgets", ["100% is the whole budget; above is overspent."],
                   [Table(head, rows)])


def _alerts(r: Report) -> Section:
    head = ("Channel", "Indicator", "Worst severity", "Since", "Resolved", "Duration in range",
            "Time to resolve")
    rows = [(e.channel, e.indicator, e.worst_severity, when(e.since_ms),
             when(e.resolved_ms) if e.resolved_ms is not None else "open",
             duration_ms(e.duration_ms), duration_ms(e.time_to_resolve_ms)) for e in r.episodes]
    per_channel = [(ch, duration_ms(ms)) for ch, ms in r.alert_time_ms.items()]
    return Section(ANCHOR_ALERTS, "Alerts", [], [
        Table(head, rows, "Episodes"), Table(("Channel", "Alert time"), per_channel,
                                             "Alert time per channel")])


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
    """Every section, in reading order (the header and the findings come first, apart)."""
    return [f(r) for f in (_summary, _targets, _attainment, _budgets, _alerts, _quality, _gaps,
                           _consistency, _worst_hours)]
