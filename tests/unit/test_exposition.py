"""The worker's and the quality stage's ``/metrics``, byte for byte, for a fixed snapshot (golden
files), as prometheus/client_python tests its own exposition.

``test_exporter.py`` and ``test_quality_contract.py`` parse the output back and check values;
these check exactly what Prometheus reads: family and sample order, HELP and TYPE lines, label
order and escaping, float formatting, the ``_total``/``_bucket``/``_sum``/``_count`` suffixes,
and the samples that are left out (a null value, an unconfigured channel).

Each registry holds only the collector under test, registered as the commands register it, and
nothing in it depends on the machine: the worker's clock and Python's allocated-block count are
injected (fixed), and the ``process_*`` metrics of ``ProcessCollector``, which ``sqm worker``
registers too, are left out (they read the process's CPU time, memory and open files).

After an intended change of the exposition, regenerate the golden files and review their diff:

    SQM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_exposition.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from stream_harness import final_window

from monitor.config import from_mapping
from monitor.domain.quality.index import SCORES, Spread
from monitor.domain.stream import feedback as fb
from monitor.domain.stream.events import EVENT_TYPES
from monitor.domain.stream.sketch import Summary
from monitor.domain.stream.window import COUNT_FIELDS
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import (
    FIRST_RESPONSE_BUCKETS_S,
    RESOLUTION_BUCKETS_S,
    Histogram,
    Series,
    Snapshot,
)
from monitor.quality import app
from monitor.quality.exporter import QualityCollector
from monitor.state.periods import ChannelResult, PeriodResult

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("SQM_UPDATE_GOLDEN") == "1"

#: every channel of the default config; phone declares a queue "billing" (its own
#: first-response target), so its queue labels are main (the default), billing and other
CFG = from_mapping({"channels": {
    "phone": {"queues": {"billing": {"first_response_target_s": 30}}},
    "chat": {}, "email": {}, "web": {}, "app": {}, "store": {}, "social": {},
}}, env={})
CHANNELS = ("phone", "chat", "email", "web", "app", "store", "social")
QUEUES = {"phone": ("main", "billing", "other"), **{ch: ("main",) for ch in CHANNELS[1:]}}
SERIES = [(ch, q) for ch in CHANNELS for q in QUEUES[ch]]
NOW_S = 1_800_000_000.0  # the injected wall clock: 2027-01-15T08:00:00Z
NOW_MS = 1_800_000_000_000
LATEST_WINDOW_MS = NOW_MS - 120_000  # the latest final window ends a minute before the scrape
BLOCKS = 123_456  # the injected sys.getallocatedblocks()
PERIOD_START_MS = NOW_MS - 3_600_000


# --- the worker ----------------------------------------------------------------------------------


def measured(**counts: int) -> list[int]:
    """A window count row in ``COUNT_FIELDS`` order, zeros but for ``counts``."""
    assert set(counts) <= set(COUNT_FIELDS)
    return [counts.get(name, 0) for name in COUNT_FIELDS]


def surveys(responses: int, complaints: int, csat: tuple[int, int, int],
            nps: tuple[int, int, int, int],
            servqual: dict[str, tuple[int, int, int]]) -> list[int]:
    """Survey sums in ``monitor.domain.stream.feedback``'s layout: csat (n, sum, satisfied), nps
    (n, sum, promoters, detractors), servqual dimension -> (responses, expected, perceived)."""
    f = [0] * fb.SIZE
    f[fb.RESPONSES], f[fb.COMPLAINTS] = responses, complaints
    f[fb.CSAT_N], f[fb.CSAT_SUM], f[fb.CSAT_SATISFIED] = csat
    f[fb.NPS_N], f[fb.NPS_SUM], f[fb.NPS_PROMOTERS], f[fb.NPS_DETRACTORS] = nps
    for dim, triple in servqual.items():
        k = fb.DIMENSIONS.index(dim)
        f[fb.SQ + 3 * k:fb.SQ + 3 * k + 3] = triple
    return f


def histograms(bounds_s: tuple[float, ...], targets_s: list[float],
               observed_ms: dict[Series, list[int]]) -> dict[Series, Histogram]:
    """One histogram per configured (channel, queue) with the worker's buckets (the defaults
    and every channel's and queue's target, as ``Stats`` builds them); ``observed_ms`` fills
    some."""
    out = {}
    for key in SERIES:
        h = Histogram(bounds_s + tuple(targets_s))
        h.observe_many(observed_ms.get(key, []))
        out[key] = h
    return out


def worker_snapshot() -> Snapshot:
    """A worker that owns every channel: phone busy in its queues main, billing and other,
    chat and email quieter, "social" with nothing at all yet; latest final windows for phone
    and its queues (values; other's null) and chat (null ratios and quantiles), none for the
    others; "fax", no longer configured, and phone's "ghost", never a queue label (an
    undeclared queue is measured under other), still in some of the data."""
    fr_targets = [c.first_response_target_s for c in CFG.channels] + [30]  # billing's
    rs_targets = [c.resolution_target_s for c in CFG.channels]
    events = {(ch, q, t): (i + 1) * 10 + j + 100 * k
              for i, ch in enumerate(CHANNELS) if ch != "social"
              for k, q in enumerate(QUEUES[ch])
              for j, t in enumerate(EVENT_TYPES)}
    events[("fax", "main", "opened")] = 5
    events[("phone", "ghost", "opened")] = 5
    phone_window = {"service_level": 0.8, "first_response": Summary(12_000.0, 19_500.0,
                                                                    21_000.0, 13_250.5, 21_000)}
    return Snapshot(
        events=events,
        rejected={"malformed_json": 3, "invalid_transition": 1, "orphan": 2},
        duplicate={("phone", "main"): 3, ("phone", "billing"): 1, ("chat", "main"): 1,
                   ("fax", "main"): 9, ("phone", "ghost"): 9},
        late={("phone", "billing"): 2, ("email", "main"): 1},
        unlisted={"phone": 6, "fax": 2},
        measured={
            ("phone", "main"): measured(opened=80, answered=70, answered_within_target=60,
                                        abandoned=8, short_abandoned=2, resolved=60,
                                        resolved_within_target=55, failed=4, reopened=3),
            ("phone", "billing"): measured(opened=30, answered=25, answered_within_target=22,
                                           abandoned=3, short_abandoned=1, resolved=25,
                                           resolved_within_target=20, failed=2, reopened=1),
            ("phone", "other"): measured(opened=10, answered=5, answered_within_target=3,
                                         abandoned=1, resolved=5, resolved_within_target=5),
            ("chat", "main"): measured(opened=60, answered=52, answered_within_target=50,
                                       abandoned=4, short_abandoned=1, resolved=40,
                                       resolved_within_target=38, failed=2),
            ("email", "main"): measured(opened=30, answered=20, answered_within_target=20,
                                        resolved=11, resolved_within_target=11),
            ("fax", "main"): measured(opened=7),
            ("phone", "ghost"): measured(opened=7),
        },
        feedback={
            ("phone", "main"): surveys(7, 1, (6, 24, 4), (6, 48, 3, 1),
                                       {"reliability": (3, 19, 16)}),
            ("phone", "billing"): surveys(3, 1, (2, 7, 1), (3, 22, 1, 1), {"empathy": (2, 13, 11)}),
            ("chat", "main"): surveys(3, 0, (3, 14, 3), (1, 9, 1, 0), {"tangibles": (1, 3, 5)}),
            ("fax", "main"): surveys(1, 1, (1, 1, 0), (0, 0, 0, 0), {}),
        },
        first_response=histograms(FIRST_RESPONSE_BUCKETS_S, fr_targets, {
            ("phone", "main"): [5_000, 12_000, 18_000, 20_000, 20_001],
            ("phone", "billing"): [29_000, 30_000, 45_000, 130_000],
            ("chat", "main"): [30_500, 60_000, 61_000],
        }),
        resolution=histograms(RESOLUTION_BUCKETS_S, rs_targets, {
            ("phone", "main"): [300_000, 540_000, 600_000, 900_000, 4_000_000],
            ("email", "main"): [90_000_000],
        }),
        backlog_waiting={k: {("phone", "main"): 2, ("phone", "billing"): 1,
                             ("chat", "main"): 1}.get(k, 0) for k in SERIES},
        backlog_open={k: {("phone", "main"): 3, ("phone", "billing"): 1, ("phone", "other"): 1,
                          ("chat", "main"): 2, ("email", "main"): 7}.get(k, 0) for k in SERIES},
        oldest_waiting_ts_ms={**dict.fromkeys(SERIES, None),
                              ("phone", "main"): NOW_MS - 42_500,
                              ("phone", "billing"): NOW_MS - 5_000,
                              ("chat", "main"): NOW_MS - 1_250},
        windows={
            ("phone", ""): final_window(
                "phone", LATEST_WINDOW_MS, opened=12, answered=10, answered_within_target=8,
                abandoned=2, short_abandoned=1, service_level=0.8,
                abandonment_rate=0.16666666666666666, resolved=9, failed=1, resolution_rate=0.9,
                resolved_within_target=7, on_time_resolution_rate=0.7777777777777778,
                reopened=0, reopen_rate=0.0,
                first_response=Summary(12_000.0, 19_500.0, 21_000.0, 13_250.5, 21_000),
                resolution=Summary(420_000.0, 598_000.0, 610_000.0, 455_333.3, 610_000)),
            ("phone", "main"): final_window("phone", LATEST_WINDOW_MS, queue="main", opened=8,
                                            answered=7, answered_within_target=6, abandoned=1,
                                            abandonment_rate=0.125, resolution_rate=0.875,
                                            **phone_window),
            ("phone", "billing"): final_window("phone", LATEST_WINDOW_MS, queue="billing",
                                               opened=4, answered=3, answered_within_target=2,
                                               abandoned=1, service_level=0.5,
                                               abandonment_rate=0.25),
            ("phone", "other"): final_window("phone", LATEST_WINDOW_MS, queue="other"),
            ("chat", ""): final_window("chat", LATEST_WINDOW_MS, opened=1, backlog_waiting=1,
                                       backlog_open=1, oldest_wait_ms=30_000),
            ("chat", "main"): final_window("chat", LATEST_WINDOW_MS, queue="main", opened=1,
                                           backlog_waiting=1, backlog_open=1,
                                           oldest_wait_ms=30_000),
            ("fax", ""): final_window("fax", LATEST_WINDOW_MS, service_level=1.0),
            ("phone", "ghost"): final_window("phone", LATEST_WINDOW_MS, queue="ghost",
                                             service_level=1.0),
        },
        alerts={
            ("phone", "", "service_level", "warning"): 0,
            ("phone", "", "service_level", "critical"): 1,
            ("phone", "billing", "service_level", "warning"): 1,
            ("phone", "other", "service_level", "warning"): 0,
            ("chat", "", "abandonment_rate", "warning"): 1,
            ("chat", "", "abandonment_rate", "critical"): 0,
            ("email", "", "no_data", "warning"): 0,
            ("fax", "", "service_level", "warning"): 1,
            ("phone", "ghost", "service_level", "warning"): 1,
        },
        watermark_ms=NOW_MS - 15_250,
        held=7,
        interactions=4_321,
        consumed=98_765,
        rekeyed=12,
        restored=3,
        handed_over=2,
        assigned={"interactions": 2, "aggregate": 1},
        consumer_lag={"interactions": 40},
    )


def worker_registry() -> CollectorRegistry:
    snap = worker_snapshot()
    reg = CollectorRegistry()
    reg.register(SqmCollector(CFG.queue_labels, lambda: snap, clock=lambda: NOW_S,
                              blocks=lambda: BLOCKS))
    return reg


# --- the quality stage ---------------------------------------------------------------------------


def channel(name: str, index: float | None, gaps: dict[str, float | None]) -> ChannelResult:
    no_scores: dict[str, float | None] = {s: None for s in SCORES}
    return ChannelResult(name, index is not None, no_scores, index,
                         {d: gaps.get(d) for d in fb.DIMENSIONS})


def quality_snapshot() -> app.Snapshot:
    """A final period (expert weights) with volume on phone and chat only, a SERVQUAL dimension
    nobody rated (null gap), a score with a zero mean (null cv) and one no channel had (no
    spread); "fax", no longer configured, still in the result and the alerts."""
    latest = PeriodResult(
        period_start_ms=PERIOD_START_MS,
        period_end_ms=NOW_MS,
        method="expert",
        weights=dict(zip(SCORES, (0.2, 0.1, 0.15, 0.1, 0.05, 0.2, 0.1, 0.1), strict=True)),
        channels=[
            channel("phone", 78.25, {"reliability": -0.5, "responsiveness": -1.25,
                                     "assurance": 0.0, "tangibles": 0.75}),
            channel("chat", 64.5, {"responsiveness": 0.5, "tangibles": 2.0}),
            *(channel(ch, None, {}) for ch in CHANNELS[2:]),
            channel("fax", 99.0, {"empathy": 1.0}),
        ],
        consistency={
            "service_level": Spread(0.85, 0.05, 0.058823529411764705, "phone", "chat"),
            "abandonment_rate": Spread(0.0, 0.0, None, "phone", "chat"),
            "nps": None,
            "quality_index": Spread(71.375, 6.875, 0.09632224168126094, "phone", "chat"),
        },
    )
    return app.Snapshot(
        latest,
        {("phone", "quality_index", "warning"): 0,
         ("phone", "quality_index", "critical"): 0,
         ("chat", "quality_index", "warning"): 1,
         ("chat", "quality_index", "critical"): 0,
         ("fax", "quality_index", "critical"): 1},
        {"bad_value": 2, "unknown_channel": 1},
    )


def quality_registry() -> CollectorRegistry:
    snap = quality_snapshot()
    reg = CollectorRegistry()
    reg.register(QualityCollector(CHANNELS, lambda: snap))
    return reg


# --- the golden files ----------------------------------------------------------------------------

EXPOSITIONS = {"worker-metrics.txt": worker_registry, "quality-metrics.txt": quality_registry}


def check_golden(name: str, registry: Collector) -> None:
    """``registry``'s exposition equals ``golden/<name>`` byte for byte (written first with
    ``SQM_UPDATE_GOLDEN=1``); a difference fails with a unified diff."""
    got = generate_latest(registry)
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(got)
    regenerate = ("if the change is intended, regenerate with "
                  "`SQM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_exposition.py` "
                  "and review the diff")
    if not path.exists():
        pytest.fail(f"tests/unit/golden/{name} is missing: {regenerate}", pytrace=False)
    want = path.read_bytes()
    if got != want:
        diff = difflib.unified_diff(
            want.decode().splitlines(keepends=True), got.decode().splitlines(keepends=True),
            fromfile=f"tests/unit/golden/{name}", tofile="generate_latest(registry)")
        pytest.fail(f"the exposition differs from tests/unit/golden/{name}; {regenerate}:\n"
                    + "".join(diff), pytrace=False)


def test_worker_metrics_byte_for_byte() -> None:
    assert CFG.queue_labels == QUEUES
    check_golden("worker-metrics.txt", worker_registry())


def test_quality_metrics_byte_for_byte() -> None:
    check_golden("quality-metrics.txt", quality_registry())


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_a_scrape_renders_the_same_bytes_each_time(name: str) -> None:
    """Nothing in the exposition depends on dict or set order across scrapes of one registry."""
    registry = EXPOSITIONS[name]()
    assert generate_latest(registry) == generate_latest(registry)


@pytest.mark.parametrize("name", sorted(EXPOSITIONS))
def test_golden_files_hold_only_what_the_exporter_may_show(name: str) -> None:
    """What a regenerated golden file must still show, read back with Prometheus' parser: only
    configured channels and queue labels (and ``queue=""``, a channel's), and no sample for a
    null value."""
    text = (GOLDEN / name).read_text(encoding="utf-8")
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    assert samples
    assert {s.labels["channel"] for s in samples if "channel" in s.labels} <= set(CHANNELS)
    for s in samples:
        if "queue" in s.labels:
            assert s.labels["queue"] in ("", *QUEUES[s.labels["channel"]]), s
    assert "fax" not in text
    assert "ghost" not in text
    if name == "worker-metrics.txt":
        assert 'sqm_service_level_ratio{channel="chat",queue=""}' not in text  # a null ratio
        assert 'sqm_first_response_window_seconds{channel="chat"' not in text  # null quantiles
        assert 'sqm_service_level_ratio{channel="phone",queue="other"}' not in text
        assert 'sqm_service_level_ratio{channel="email"' not in text  # no final window
        # summable series have no channel roll-up
        assert 'sqm_opened_total{channel="phone",queue=""}' not in text
        assert 'sqm_backlog_open{channel="phone",queue=""}' not in text
        assert "process_" not in text
    else:
        assert 'sqm_quality_index{channel="email"}' not in text  # no volume
        assert 'sqm_servqual_gap{channel="phone",dimension="empathy"}' not in text
        assert 'sqm_channel_consistency_cv{score="abandonment_rate"}' not in text  # mean 0
