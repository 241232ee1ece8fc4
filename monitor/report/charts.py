"""The report's charts as PNG bytes, drawn with matplotlib where a picture reads better than a
table. ``Figure`` is used without pyplot: no global state, no GUI backend, safe in any thread.
matplotlib is imported inside the functions so ``sqm`` starts fast when no report is asked for.

Deterministic: fixed size and dpi, no timestamp or software name in the PNG metadata, so the
same report gives the same bytes. A chart with nothing to draw is left out (None).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Final

from monitor.domain.quality.index import DIMENSIONS
from monitor.report.fmt import signed
from monitor.report.model import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI: Final = 100
SIZE: Final = (8.0, 3.6)


def _figure(height: float = SIZE[1]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE[0], height), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _time_axis(ax: Axes) -> None:
    """Dates on x in UTC (the report's time zone), ticks at round times for the range."""
    ax.xaxis_date(tz=UTC)
    ax.set_xlabel("UTC")


def _days(ms: int) -> float:
    """Epoch ms to matplotlib's date numbers (days since 1970-01-01, its default epoch)."""
    return ms / 86_400_000


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def _sl_targets(r: Report) -> dict[str, float]:
    """Per channel the service-level target to draw: a threshold rule's, else the SLO's."""
    out: dict[str, float] = {}
    for kind in ("threshold", "slo"):
        for t in r.targets:
            if t.kind == kind and t.indicator == "service_level" and t.target is not None:
                out.setdefault(t.channel, t.target)
    return out


def service_level(r: Report) -> bytes | None:
    """Service level of every window per channel, the target as a dashed line in its colour."""
    if not any(v is not None for s in r.series.values() for _, v in s):
        return None
    fig, ax = _figure()
    targets = _sl_targets(r)
    for i, (ch, points) in enumerate(r.series.items()):
        colour = f"C{i}"
        ax.plot([_days(t) for t, _ in points], [100 * _nan(v) for _, v in points],
                color=colour, linewidth=1, marker=".", markersize=3, label=ch)
        if ch in targets:
            ax.axhline(100 * targets[ch], color=colour, linestyle="--", linewidth=1)
    ax.set_ylabel("service level (%)")
    ax.set_ylim(0, 100)
    _time_axis(ax)
    ax.legend(loc="lower left", fontsize="small")
    return _png(fig)


def gaps(r: Report) -> bytes | None:
    """SERVQUAL gap heat map, channel x dimension, red below expectations and blue above."""
    table = r.gaps.per_channel
    if not any(v is not None for g in table.values() for v in g.values()):
        return None
    rows = list(table)
    grid = [[_nan(table[ch].get(d)) for d in DIMENSIONS] for ch in rows]
    limit = max([abs(v) for line in grid for v in line if not math.isnan(v)] + [0.5])
    fig, ax = _figure(1.2 + 0.45 * len(rows))
    image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(DIMENSIONS)), list(DIMENSIONS))
    ax.set_yticks(range(len(rows)), rows)
    for y, line in enumerate(grid):
        for x, v in enumerate(line):
            text, strong = ("n/a", False) if math.isnan(v) else (signed(v), abs(v) > 0.6 * limit)
            ax.text(x, y, text, ha="center", va="center", fontsize="small",
                    color="white" if strong else "black")
    fig.colorbar(image, ax=ax, label="gap")
    return _png(fig)


def attainment(r: Report) -> bytes | None:
    """Share of windows that met each threshold, one bar per channel and indicator."""
    rows = [a for a in r.attainment if a.share is not None]
    if not rows:
        return None
    fig, ax = _figure(1.0 + 0.3 * len(rows))
    labels = [f"{a.channel} · {a.indicator}" for a in rows]
    shares = [100 * (a.share or 0.0) for a in rows]
    colours = ["C2" if a.met == a.windows else "C3" for a in rows]
    ax.barh(range(len(rows)), shares, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("windows that met the threshold (%)")
    return _png(fig)


def quality(r: Report) -> bytes | None:
    """Quality index per channel and period."""
    if not any(p.quality_index is not None for t in r.trends.values() for p in t.periods):
        return None
    fig, ax = _figure()
    for ch, t in r.trends.items():
        ax.plot([_days(p.period_start_ms) for p in t.periods],
                [_nan(p.quality_index) for p in t.periods], marker="o", markersize=3, label=ch)
    ax.set_ylabel("quality index")
    ax.set_ylim(0, 100)
    _time_axis(ax)
    ax.legend(loc="lower left", fontsize="small")
    return _png(fig)


#: chart key (``sections.Section.chart``) -> its drawing and its alt text
CHARTS: Final[dict[str, tuple[Callable[[Report], bytes | None], str]]] = {
    "service_level": (service_level, "Service level per channel and window, targets dashed"),
    "attainment": (attainment, "Share of windows that met each threshold"),
    "quality": (quality, "Quality index per channel and period"),
    "gaps": (gaps, "SERVQUAL gaps per channel and dimension"),
}


def draw(r: Report) -> dict[str, bytes]:
    """Every chart that has something to draw, by key."""
    out: dict[str, bytes] = {}
    for key, (chart, _) in CHARTS.items():
        png = chart(r)
        if png is not None:
            out[key] = png
    return out
