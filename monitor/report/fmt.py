"""Formatting shared by the HTML and Markdown renderers, so both print every figure identically.

Only formatting: the numbers themselves come from the ``Report``. ``None`` (no denominator in the
period) prints as ``NA``, never as 0, so a quiet channel is not read as a failing one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, NamedTuple

from monitor.domain.attainment import Target
from monitor.domain.quality import DIMENSIONS
from monitor.domain.review import ANCHOR_ALERTS, ANCHOR_ATTAINMENT, ANCHOR_GAPS, Finding
from monitor.report.model import Report

NA: Final = "n/a"
#: a real minus sign for negatives (a hyphen reads as a dash in a table)
MINUS: Final = "\u2212"
NO_DATA: Final = "No data for this range."
#: indicators that are shares on 0..1 (threshold rules and SLOs), printed as percentages
SHARES: Final = frozenset({
    "service_level", "abandonment_rate", "resolution_rate", "on_time_resolution_rate",
    "reopen_rate", "on_time_resolution", "resolution",
})
#: a Target's or Attainment's op, as the reader expects to see it
OPS: Final = {">=": "≥", "<=": "≤", "<": "not below", ">": "not above"}


def pct(x: float | None) -> str:
    """A share on 0..1 as a percentage with 1 decimal; an unbounded overspend as "∞"."""
    if x is None:
        return NA
    return "∞" if math.isinf(x) else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 2) -> str:
    """A plain number with a fixed count of decimals (and a real minus sign for negatives)."""
    return NA if x is None else f"{x:.{digits}f}".replace("-", MINUS)


def signed(x: float | None, digits: int = 2) -> str:
    """A number whose sign matters (gaps, slopes): always signed."""
    return NA if x is None else f"{x:+.{digits}f}".replace("-", MINUS)


def count(n: int | None) -> str:
    """An integer count with thin thousands separators (reads well in both formats)."""
    return NA if n is None else f"{n:,}".replace(",", " ")


def duration_s(seconds: float | None) -> str:
    """A duration: "45 s" under a minute, else "12 min" or "1 h 05 min" (seconds dropped)."""
    if seconds is None:
        return NA
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    hours, minutes = divmod(total // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def duration_ms(ms: int | None) -> str:
    """``duration_s`` for epoch-ms differences (the domain's unit)."""
    return NA if ms is None else duration_s(ms / 1000)


def when(ms: int | None) -> str:
    """An instant in UTC to the minute (the report's windows are minute-aligned)."""
    if ms is None:
        return NA
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def value(indicator: str, x: float | None) -> str:
    """A value in its indicator's unit: shares as %, seconds as a duration, CSAT 2 decimals."""
    if x is None:
        return NA
    if indicator in SHARES:
        return pct(x)
    if indicator.endswith("_s"):
        return duration_s(x)
    if indicator == "csat_mean":
        return num(x, 2)
    if indicator == "nps":
        return num(x, 1)
    return f"{x:g}"


def met(flag: bool | None) -> str:
    """A met/missed verdict; "n/a" without an actual."""
    return NA if flag is None else ("met" if flag else "missed")


def finding_text(f: Finding) -> str:
    """One "what to look at" line, worded per kind of finding."""
    if f.anchor == ANCHOR_GAPS:
        return f"Largest SERVQUAL gap: {f.channel}, {f.subject} {signed(f.value)}"
    if f.anchor == ANCHOR_ATTAINMENT:
        return f"Largest SLA miss: {f.channel}, {f.subject} met in {pct(f.value)} of windows"
    if f.anchor == ANCHOR_ALERTS:
        return f"Most alert time: {f.channel}, {duration_ms(round(f.value))}"
    return f"{f.channel} {f.subject}: {num(f.value)}"


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


# --- the sections, as text: one source for both formats -------------------------------------


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
    head = ("Channel", "Periods", "Mean", "First", "Last", "Trend (points/day)")
    rows = [(ch, count(len(t.periods)), num(t.mean, 1), num(t.first, 1), num(t.last, 1),
             signed(t.slope_per_day, 2)) for ch, t in r.trends.items()]
    return Section("quality", "Quality index", [
        f"Index 0..100 per {duration_s(r.period_s)} period, weights: {r.method}."],
        [Table(head, rows)], "quality")


def _gaps(r: Report) -> Section:
    head = ("Channel", *DIMENSIONS)
    table = [*r.gaps.per_channel.items(), ("all channels", r.gaps.overall)] \
        if r.gaps.per_channel else []
    rows = [(ch, *(signed(g.get(d)) for d in DIMENSIONS)) for ch, g in table]
    return Section(ANCHOR_GAPS, "SERVQUAL gaps", [
        "Perceived minus expected, on -6..6: below 0 falls short of expectations."],
        [Table(head, rows)], "gaps")


def _consistency(r: Report) -> Section:
    head = ("Score", "Mean", "Std dev", "CV", "Best", "Worst")
    rows = [(name, num(s.mean, 3), num(s.stddev, 3), num(s.cv, 3), s.best_channel,
             s.worst_channel) for name, s in r.spread.items() if s is not None]
    return Section("consistency", "Cross-channel consistency", [
        "Spread of each score across the channels over the range (the index on 0..100, the "
        "scores on 0..1)."], [Table(head, rows)])


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
