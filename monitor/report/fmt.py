"""How the report prints a figure, shared by the HTML and Markdown renderers (through
``sections``) so both print every figure identically.

Only formatting: the numbers themselves come from the ``Report``. ``None`` (no denominator in the
period) prints as ``NA``, never as 0, so a quiet channel is not read as a failing one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from monitor.domain.report.review import ANCHOR_ALERTS, ANCHOR_ATTAINMENT, ANCHOR_GAPS, Finding

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
