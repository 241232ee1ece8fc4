"""What the overview reads of the worker's series, and how a query picks a channel or a queue
out of them (SPEC 9).

Two kinds of series carry ``queue``, and a query must treat them apart or it counts a channel
twice (or not at all):

* summable ones (the backlog gauges; counters and histograms likewise) have one series per
  queue and no roll-up: a channel is ``sum by (channel)`` over its queues;
* non-summable gauges (latest-window ratios and quantiles, the oldest wait) have one series per
  queue *and* the channel's own with ``queue=""``: a channel is its ``queue=""`` series, and a
  queue query excludes it (``queue!=""``) even if ``$queue`` is given a match-all value.
"""

from __future__ import annotations

from typing import NamedTuple

#: the channels chosen in ``$channel`` (summable series: every queue, summed by the query)
CHANNELS = 'channel=~"$channel"'
#: a channel's own series of a non-summable gauge
ROLLUP = 'channel=~"$channel", queue=""'
#: the queues chosen in ``$queue``, never a channel's roll-up series
QUEUES = 'channel=~"$channel", queue=~"$queue", queue!=""'


class Measure(NamedTuple):
    """One figure of the latest final window (or of the backlog now), as a channel tile and as
    a per-queue column and series."""

    title: str
    indicator: str  # the [[alerts]] indicator whose thresholds colour it
    metric: str
    unit: str
    summable: bool = False  # one series per queue, no roll-up: summed
    matchers: str = ""  # more label matchers, e.g. ', quantile="0.9"'

    def channel_expr(self) -> str:
        """One value per channel."""
        if self.summable:
            return f"sum by (channel) ({self.metric}{{{CHANNELS}{self.matchers}}})"
        return f"max by (channel) ({self.metric}{{{ROLLUP}{self.matchers}}})"

    def queue_expr(self) -> str:
        """One value per (channel, queue) of ``$queue``."""
        agg = "sum" if self.summable else "max"
        return f"{agg} by (channel, queue) ({self.metric}{{{QUEUES}{self.matchers}}})"


SERVICE_LEVEL = Measure("Service level", "service_level", "sqm_service_level_ratio",
                        "percentunit")
ABANDONMENT = Measure("Abandonment", "abandonment_rate", "sqm_abandonment_ratio", "percentunit")
FIRST_RESPONSE_P90 = Measure("First response p90", "first_response_p90_s",
                             "sqm_first_response_window_seconds", "s",
                             matchers=', quantile="0.9"')
WAITING = Measure("Waiting backlog", "backlog_waiting", "sqm_backlog_waiting", "short",
                  summable=True)
OLDEST_WAIT = Measure("Oldest wait", "oldest_wait_s", "sqm_oldest_wait_seconds", "s")

#: the overview's tiles of each channel, in order
TILES = (
    SERVICE_LEVEL, ABANDONMENT, FIRST_RESPONSE_P90, WAITING, OLDEST_WAIT,
    Measure("Resolution rate", "resolution_rate", "sqm_resolution_ratio", "percentunit"),
    Measure("On-time resolution", "on_time_resolution_rate", "sqm_on_time_resolution_ratio",
            "percentunit"),
    Measure("Reopen rate", "reopen_rate", "sqm_reopen_ratio", "percentunit"),
)
#: what the per-queue table and series show: where a contact centre acts first
BY_QUEUE = (SERVICE_LEVEL, ABANDONMENT, FIRST_RESPONSE_P90, WAITING, OLDEST_WAIT)
