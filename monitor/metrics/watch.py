"""``sqm watch``: a live per-channel summary in the terminal, read from workers' ``/metrics``
and the quality stage's.

It sums counters and backlog across the URLs given (one per worker) and takes the newest window
gauges, the way a Prometheus query would, so it shows the same numbers as the dashboards. The
quality index and the SERVQUAL gaps of the latest final period come from the quality stage
(``sqm quality``); without it those columns show ``-``.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, timeout_s: float = 3.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        text = resp.read().decode()
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _fmt(v: float | None, pattern: str = "{:.0f}") -> str:
    return "-" if v is None else pattern.format(v)


def table(samples: Sequence[Samples], channels: Sequence[str]) -> Table:
    """One row per channel from ``samples`` (one scrape per worker that answered)."""
    summed = _summed(samples)
    latest = _latest_windows(samples)
    t = Table(title="sqm-monitor: latest final window per channel", expand=False)
    for col in ("channel", "opened", "waiting", "open", "oldest wait", "service level",
                "abandon", "1st resp p90", "resolution", "on time", "late", "dupes", "quality",
                "largest gap", "alerts"):
        t.add_column(col, justify="left" if col in ("channel", "alerts") else "right")
    for ch in channels:
        t.add_row(*_row(ch, samples, summed, latest))
    t.caption = _caption(samples, summed)
    return t


def _summed(samples: Sequence[Samples]) -> Samples:
    """Every series summed over the workers: counters and backlog are per worker, so the
    cluster's value is the sum (as ``sum()`` in a Prometheus query)."""
    summed: Samples = defaultdict(float)
    for s in samples:
        for key, v in s.items():
            summed[key] += v
    return summed


def _latest_windows(samples: Sequence[Samples]) -> Samples:
    """Per channel, the window gauges of the worker whose latest final window ends last (the
    later one on a tie): when more than one worker shows a window for a channel, as around a
    rebalance, the newest one is current."""
    latest: Samples = {}
    ends: dict[str, float] = {}
    for s in samples:
        for (name, labels), v in s.items():
            if name == "sqm_window_end_timestamp_seconds":
                ch = dict(labels)["channel"]
                if v >= ends.get(ch, 0):
                    ends[ch] = v
                    latest.update(_window_series(s, ch))
    return latest


def _window_series(s: Samples, channel: str) -> Samples:
    """One worker's latest-window gauges (window end, window quantiles, ratios) of ``channel``,
    taken together so the row never mixes two workers' windows."""
    return {(n, labels): v for (n, labels), v in s.items()
            if dict(labels).get("channel") == channel and ("window" in n or n.endswith("_ratio"))}


def _row(ch: str, samples: Sequence[Samples], summed: Samples, latest: Samples) -> tuple[str, ...]:
    """One channel's cells; a series no worker exports shows as ``-`` rather than 0 (a null
    ratio of an empty window is absent from ``/metrics``)."""
    c = (("channel", ch),)
    oldest = max((s.get(("sqm_oldest_wait_seconds", c), 0.0) for s in samples), default=0.0)

    def pct(name: str) -> str:
        v = latest.get((name, c))
        return _fmt(None if v is None else 100 * v, "{:.1f}%")

    p90 = latest.get(("sqm_first_response_window_seconds", (("channel", ch), ("quantile", "0.9"))))
    return (
        ch, _fmt(summed.get(("sqm_opened_total", c))),
        _fmt(summed.get(("sqm_backlog_waiting", c))), _fmt(summed.get(("sqm_backlog_open", c))),
        _fmt(oldest, "{:.0f} s"), pct("sqm_service_level_ratio"), pct("sqm_abandonment_ratio"),
        _fmt(p90, "{:.1f} s"), pct("sqm_resolution_ratio"), pct("sqm_on_time_resolution_ratio"),
        _fmt(summed.get(("sqm_events_late_total", c))),
        _fmt(summed.get(("sqm_events_duplicate_total", c))),
        _fmt(summed.get(("sqm_quality_index", c)), "{:.1f}"), largest_gap(summed, ch),
        firing(summed, ch),
    )


def largest_gap(summed: Samples, channel: str) -> str:
    """The SERVQUAL dimension whose perception falls furthest short of expectation in the
    latest final period (``reliability -1.40``); ``-`` when no dimension was rated."""
    gaps = [(v, dict(labels)["dimension"]) for (name, labels), v in summed.items()
            if name == "sqm_servqual_gap" and dict(labels).get("channel") == channel]
    if not gaps:
        return "-"
    value, dimension = min(gaps)
    return f"{dimension} {value:+.2f}"


def firing(summed: Samples, channel: str) -> str:
    """The channel's threshold alerts now firing (``sqm_alert_active`` = 1), critical first:
    ``CRIT service_level, warn oldest_wait_s``; empty when none."""
    active = sorted(
        (dict(labels)["severity"] != "critical", dict(labels)["indicator"], dict(labels)["severity"])
        for (name, labels), v in summed.items()
        if name == "sqm_alert_active" and v >= 1 and dict(labels).get("channel") == channel)
    return ", ".join(f"{'CRIT' if sev == 'critical' else 'warn'} {ind}" for _c, ind, sev in active)


def _caption(samples: Sequence[Samples], summed: Samples) -> str:
    """Cluster-wide totals that have no channel: dead letters summed over reasons and the
    worst watermark lag (the worker furthest behind holds the windows back)."""
    rejected = sum(v for (n, _l), v in summed.items() if n == "sqm_events_rejected_total")
    lag = max((s.get(("sqm_watermark_lag_seconds", ()), 0.0) for s in samples), default=0.0)
    workers = sum(1 for s in samples if ("sqm_records_consumed_total", ()) in s)
    quality = "up" if any(n == "sqm_quality_index" for s in samples for n, _l in s) else "no data"
    return (f"dead-lettered {rejected:.0f} · watermark lag {lag:.0f} s · {workers} worker(s) · "
            f"quality stage: {quality}")


def notified(alerts: Sequence[dict[str, Any]]) -> str:
    """Alertmanager's active, not inhibited or silenced alerts by receiver: what on-call has
    been sent (``page: chat SqmServiceLevelLow critical``), or that there is none."""
    lines = sorted(
        f"{','.join(r['name'] for r in a.get('receivers', []))}: "
        f"{a['labels'].get('channel', '-')} {a['labels'].get('alertname', '?')} "
        f"{a['labels'].get('severity', '')}".rstrip()
        for a in alerts if a.get("status", {}).get("state") == "active")
    return "Alertmanager: " + (" · ".join(lines) if lines else "no active alert")


def alertmanager_alerts(url: str, timeout_s: float = 3.0) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v2/alerts", timeout=timeout_s) as resp:
        result: list[dict[str, Any]] = json.loads(resp.read())
    return result


def view(urls: Sequence[str], channels: Sequence[str], alertmanager: str | None) -> RenderableType:
    """The table from every worker that answers, and Alertmanager's line when asked for."""
    samples = []
    for u in urls:
        with contextlib.suppress(OSError):  # a worker that is down shows as missing
            samples.append(scrape(u))
    t = table(samples, channels)
    if alertmanager is None:
        return t
    try:
        line = notified(alertmanager_alerts(alertmanager))
    except (OSError, ValueError) as exc:
        line = f"Alertmanager: unreachable at {alertmanager} ({exc})"
    return Group(t, Text(line))


def main(urls: Sequence[str], channels: Sequence[str], interval_s: float, once: bool,
         alertmanager: str | None = None) -> int:
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough for every column
        console = Console(width=180)

    def render() -> RenderableType:
        return view(urls, channels, alertmanager)

    if once:
        console.print(render())
        return 0
    try:
        if not console.is_terminal:  # a log or a pipe: a fresh table every interval
            while True:
                console.print(render())
                time.sleep(interval_s)
        with Live(render(), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(interval_s)
                live.update(render())
    except KeyboardInterrupt:
        return 0
