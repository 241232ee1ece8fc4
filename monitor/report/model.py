"""What a period report is built from and what it holds. ``Inputs``: the decoded records of the
output topics, as ``read`` hands them to ``build``; ``Report``: the figures of
``monitor.domain.report.attainment`` and ``monitor.domain.report.review`` for one time range,
assembled by ``build`` and written by the renderers. Plain data: a renderer never computes a
figure, so HTML and Markdown always agree."""

from __future__ import annotations

import msgspec

from monitor.contract.quality import ChannelQuality
from monitor.domain.alerts import Transition
from monitor.domain.quality.index import Spread, Sums
from monitor.domain.report.attainment import Attainment, Budget, Counts, Hour, Target
from monitor.domain.report.review import Episode, Finding, GapTable, Trend
from monitor.domain.stream.indicators import Indicators


class Window(msgspec.Struct, frozen=True):
    """One ``sqm.indicators.v1`` record: its indicators, and the integer sums the quality stage
    adds up (so the report's SERVQUAL gaps and consistency are the stage's)."""

    indicators: Indicators
    sums: Sums


class Inputs(msgspec.Struct, frozen=True):
    """The records a report is built from, each decoded once and each distinct (a topic read at
    least once may hold a record twice). Any channel and time: ``build`` keeps its own."""

    windows: list[Window]
    transitions: list[Transition]
    #: the ``kind: channel`` records of ``sqm.quality.v1`` (the report computes consistency itself)
    quality: list[ChannelQuality]
    #: the ``sqm.queues.v1`` records (SPEC 9): read only when the config declares queues
    queues: list[Indicators] = []


class Report(msgspec.Struct, frozen=True):
    """One report. Times are epoch ms (UTC); ``to_ms`` is exclusive."""

    from_ms: int
    to_ms: int
    generated_at_ms: int
    channels: tuple[str, ...]  # the channels reported, in config order
    window_s: int
    period_s: int  # the quality period
    method: str  # the quality index's weighting method
    windows: int  # final windows read per channel (the range's coverage)
    sums: dict[str, Counts]  # per channel, the range's sums
    overall: Counts  # every reported channel summed
    targets: list[Target]
    attainment: list[Attainment]
    budgets: list[Budget]
    episodes: list[Episode]
    alert_time_ms: dict[str, int]  # per channel, time with an alert firing in the range
    trends: dict[str, Trend]  # quality index per channel and period
    gaps: GapTable  # SERVQUAL gaps per channel and dimension, and overall
    spread: dict[str, Spread | None]  # cross-channel consistency per score over the range
    worst_hours: list[Hour]
    findings: list[Finding]  # "what to look at", each linking to its section's anchor
    #: per channel the service level of each window, in order, for the time-series chart:
    #: (window start ms, value or None)
    series: dict[str, list[tuple[int, float | None]]]
    #: SPEC 9, the per-queue table: the reported channels that declare queues, each with the
    #: queues listed (config order; ``other`` only when it has windows in the range). Empty: the
    #: report has no queue section (no reported channel declares queues).
    queues: dict[str, tuple[str, ...]] = {}
    #: ``targets`` of each listed queue, with ``queue`` set, queues under their channel
    queue_targets: list[Target] = []
    #: ``attainment`` of each listed queue, with ``queue`` set, queues under their channel
    queue_attainment: list[Attainment] = []
    #: the error budgets of the SLOs per queue (``by = ["queue"]``), with ``queue`` set
    queue_budgets: list[Budget] = []
    #: per (channel, queue), time with one of the queue's own alerts firing in the range
    queue_alert_time_ms: dict[tuple[str, str], int] = {}
