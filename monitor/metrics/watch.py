"""``sqm watch``: a live per-channel summary in the terminal, read from workers' ``/metrics``.

It sums counters and backlog across the URLs given (one per worker) and takes the newest window
gauges, the way a Prometheus query would, so it shows the same numbers as the dashboards.
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.live import Live
from rich.table import Table

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
    summed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    latest: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    ends: dict[str, float] = {}
    for s in samples:
        for key, v in s.items():
            summed[key] += v
        for (name, labels), v in s.items():
            if name == "sqm_window_end_timestamp_seconds":
                ch = dict(labels)["channel"]
                if v >= ends.get(ch, 0):
                    ends[ch] = v
                    for (n2, l2), v2 in s.items():
                        if dict(l2).get("channel") == ch and ("window" in n2 or n2.endswith("_ratio")):
                            latest[(n2, l2)] = v2
    t = Table(title="sqm-monitor: latest final window per channel", expand=False)
    for col in ("channel", "opened", "waiting", "open", "oldest wait", "service level",
                "abandon", "1st resp p90", "resolution", "on time", "late", "dupes"):
        t.add_column(col, justify="right" if col != "channel" else "left")
    for ch in channels:
        c = (("channel", ch),)
        oldest = max((s.get(("sqm_oldest_wait_seconds", c), 0.0) for s in samples), default=0.0)

        def pct(name: str, c: tuple[tuple[str, str], ...] = c) -> str:
            v = latest.get((name, c))
            return _fmt(None if v is None else 100 * v, "{:.1f}%")

        p90 = latest.get(("sqm_first_response_window_seconds", (("channel", ch), ("quantile", "0.9"))))
        t.add_row(
            ch, _fmt(summed.get(("sqm_opened_total", c))),
            _fmt(summed.get(("sqm_backlog_waiting", c))), _fmt(summed.get(("sqm_backlog_open", c))),
            _fmt(oldest, "{:.0f} s"), pct("sqm_service_level_ratio"), pct("sqm_abandonment_ratio"),
            _fmt(p90, "{:.1f} s"), pct("sqm_resolution_ratio"), pct("sqm_on_time_resolution_ratio"),
            _fmt(summed.get(("sqm_events_late_total", c))),
            _fmt(summed.get(("sqm_events_duplicate_total", c))),
        )
    rejected = sum(v for (n, _l), v in summed.items() if n == "sqm_events_rejected_total")
    lag = max((s.get(("sqm_watermark_lag_seconds", ()), 0.0) for s in samples), default=0.0)
    t.caption = f"dead-lettered {rejected:.0f} · watermark lag {lag:.0f} s · {len(samples)} worker(s)"
    return t


def main(urls: Sequence[str], channels: Sequence[str], interval_s: float, once: bool) -> int:
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough for every column
        console = Console(width=140)

    def render() -> Table:
        samples = []
        for u in urls:
            with contextlib.suppress(OSError):  # a worker that is down shows as missing
                samples.append(scrape(u))
        return table(samples, channels)

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
