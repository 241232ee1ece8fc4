"""``sqm watch``: a live per-channel (or per-queue) summary in the terminal, read from workers'
``/metrics`` and the quality stage's.

It sums counters and backlog across the URLs given (one per worker) and over the ``queue`` label,
and takes the newest window gauges, the way a Prometheus query would, so it shows the same
numbers as the dashboards (SPEC 9: counters and backlog have per-queue series only, the window
gauges and the oldest wait also a channel roll-up with ``queue=""``). ``--by queue`` adds each
channel's queues under its row. The quality index and the SERVQUAL gaps of the latest final
period come from the quality stage (``sqm quality``); without it those columns show ``-``.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]
#: ``(channel, queue)`` of a row; queue ``""``: the channel
Row = tuple[str, str]
By = Literal["channel", "queue"]
#: the series that add up across workers and over the ``queue`` label
_SUMMED = frozenset(("sqm_opened_total", "sqm_backlog_waiting", "sqm_backlog_open",
                     "sqm_events_late_total", "sqm_events_duplicate_total"))


def scrape(url: str, timeout_s: float = 3.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return parse(resp.read().decode())


def parse(text: str) -> Samples:
    """An exposition's samples, labels as exposed (a channel roll-up keeps ``queue=""``)."""
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def canonical(samples: Samples) -> Samples:
    """``samples`` without the labels whose value is empty, as Prometheus reads them: a channel
    roll-up (``queue=""``) then has the key of a series without ``queue`` (the quality stage's,
    or a worker's from before queues)."""
    return {(name, tuple((k, v) for k, v in lbl if v)): value
            for (name, lbl), value in samples.items()}


def row_labels(channel: str, queue: str = "", **extra: str) -> Labels:
    """The sample key's labels of a row's series (no ``queue`` for the channel's)."""
    d = {"channel": channel, **extra}
    if queue:
        d["queue"] = queue
    return tuple(sorted(d.items()))


def _fmt(v: float | None, pattern: str = "{:.0f}") -> str:
    return "-" if v is None else pattern.format(v)


def table(samples: Sequence[Samples], queues: Mapping[str, Sequence[str]],
          by: By = "channel") -> Table:
    """One row per channel of ``queues`` (each configured channel's queue labels) from
    ``samples`` (one scrape per worker that answered); ``by="queue"``: each followed by a row
    per queue, indented."""
    samples = [canonical(s) for s in samples]
    summed = _summed(samples)
    sums = _sums(summed)
    latest = _latest_windows(samples)
    per = "channel and queue" if by == "queue" else "channel"
    t = Table(title=f"sqm-monitor: latest final window per {per}", expand=False)
    for col in ("channel", "opened", "waiting", "open", "oldest wait", "service level",
                "abandon", "1st resp p90", "resolution", "on time", "late", "dupes", "quality",
                "largest gap", "alerts"):
        t.add_column(col, justify="left" if col in ("channel", "alerts") else "right")
    for ch, qs in queues.items():
        for q in ("", *qs) if by == "queue" else ("",):
            t.add_row(*_row((ch, q), samples, summed, sums, latest))
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


def _sums(summed: Samples) -> dict[tuple[str, str, str | None], float]:
    """``(name, channel, queue)`` -> the counters' and backlog's value summed over the workers,
    and with queue None summed over the ``queue`` label too: the channel (these metrics have
    per-queue series only, so the sum never counts a channel twice)."""
    out: dict[tuple[str, str, str | None], float] = defaultdict(float)
    for (name, lbl), v in summed.items():
        if name in _SUMMED:
            d = dict(lbl)
            ch = d.get("channel")
            if ch is not None:
                out[(name, ch, d.get("queue", ""))] += v
                out[(name, ch, None)] += v
    return out


def _latest_windows(samples: Sequence[Samples]) -> dict[Row, Samples]:
    """Per channel (queue ``""``: its roll-up) and per queue, the window gauges of the worker
    whose latest final window ends last (the later one on a tie): when more than one worker shows
    a window, as around a rebalance, the newest one is current. A row's gauges are taken
    together from one worker, so it never mixes two workers' windows."""
    latest: dict[Row, Samples] = {}
    ends: dict[Row, float] = {}
    for s in samples:
        for row, series in _window_series(s).items():
            end = series.get(("sqm_window_end_timestamp_seconds", row_labels(*row)))
            if end is not None and end >= ends.get(row, 0):
                ends[row] = end
                latest[row] = series
    return latest


def _window_series(s: Samples) -> dict[Row, Samples]:
    """One worker's latest-window gauges (window end, window quantiles, ratios) by row."""
    out: dict[Row, Samples] = defaultdict(dict)
    for (n, lbl), v in s.items():
        if "window" in n or n.endswith("_ratio"):
            d = dict(lbl)
            if "channel" in d:
                out[(d["channel"], d.get("queue", ""))][(n, lbl)] = v
    return out


def _row(row: Row, samples: Sequence[Samples], summed: Samples,
         sums: dict[tuple[str, str, str | None], float],
         latest: dict[Row, Samples]) -> tuple[str, ...]:
    """One channel's (queue ``""``) or queue's cells; a series no worker exports shows as ``-``
    rather than 0 (a null ratio of an empty window is absent from ``/metrics``). The quality
    stage's columns are per channel: ``-`` on a queue's row."""
    ch, q = row
    c = row_labels(ch, q)
    oldest = max((s.get(("sqm_oldest_wait_seconds", c), 0.0) for s in samples), default=0.0)
    window = latest.get(row, {})

    def pct(name: str) -> str:
        v = window.get((name, c))
        return _fmt(None if v is None else 100 * v, "{:.1f}%")

    def total(name: str) -> str:
        return _fmt(sums.get((name, ch, q or None)))

    p90 = window.get(("sqm_first_response_window_seconds", row_labels(ch, q, quantile="0.9")))
    return (
        f"  {q}" if q else ch, total("sqm_opened_total"),
        total("sqm_backlog_waiting"), total("sqm_backlog_open"),
        _fmt(oldest, "{:.0f} s"), pct("sqm_service_level_ratio"), pct("sqm_abandonment_ratio"),
        _fmt(p90, "{:.1f} s"), pct("sqm_resolution_ratio"), pct("sqm_on_time_resolution_ratio"),
        total("sqm_events_late_total"), total("sqm_events_duplicate_total"),
        "-" if q else _fmt(summed.get(("sqm_quality_index", c)), "{:.1f}"),
        "-" if q else largest_gap(summed, ch), firing(summed, ch, q),
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


def firing(summed: Samples, channel: str, queue: str = "") -> str:
    """The channel's threshold alerts now firing (``sqm_alert_active`` = 1), critical first:
    ``CRIT service_level, warn oldest_wait_s``; empty when none. ``queue``: that queue's alerts
    instead (``""``: the channel alerts, which have no ``queue``)."""
    active = sorted(
        (d["severity"] != "critical", d["indicator"], d["severity"])
        for (name, lbl), v in summed.items()
        if name == "sqm_alert_active" and v >= 1
        and (d := dict(lbl)).get("channel") == channel and d.get("queue", "") == queue)
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


def view(urls: Sequence[str], queues: Mapping[str, Sequence[str]], alertmanager: str | None,
         by: By = "channel") -> RenderableType:
    """The table from every worker that answers, and Alertmanager's line when asked for."""
    samples = []
    for u in urls:
        with contextlib.suppress(OSError):  # a worker that is down shows as missing
            samples.append(scrape(u))
    t = table(samples, queues, by)
    if alertmanager is None:
        return t
    try:
        line = notified(alertmanager_alerts(alertmanager))
    except (OSError, ValueError) as exc:
        line = f"Alertmanager: unreachable at {alertmanager} ({exc})"
    return Group(t, Text(line))


def main(urls: Sequence[str], queues: Mapping[str, Sequence[str]], interval_s: float,
         once: bool, alertmanager: str | None = None, by: By = "channel") -> int:
    """``queues``: each configured channel's queue labels (``Config.queue_labels``)."""
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough for every column
        console = Console(width=180)

    def render() -> RenderableType:
        return view(urls, queues, alertmanager, by)

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
