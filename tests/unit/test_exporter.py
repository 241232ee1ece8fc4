"""The Prometheus collector renders a hand-built snapshot exactly (SPEC sections 4 and 9).

The config of most tests: phone declares ``billing`` (its own first-response target) and
``sales``, so its queue labels are ``main`` (the default queue, declared implicitly), billing,
sales and ``other``; chat declares none, so its one label is its default queue ``main``.
"""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from stream_harness import final_window

from monitor.config import Config, domain_params, from_mapping
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.sketch import Summary
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import Histogram, Snapshot, Stats
from monitor.stages.interactions.processor import PartitionProcessor

CFG = from_mapping({"channels": {
    "phone": {"queues": {"billing": {"first_response_target_s": 30}, "sales": {}}},
    "chat": {},
}}, env={})
#: CFG's queue labels, written out
QUEUES = {"phone": ("main", "billing", "sales", "other"), "chat": ("main",)}
NOW_S = 1_800_000_000.0
NOW_MS = 1_800_000_000_000
T0 = 1_799_999_880_000  # a window start two minutes before the clock
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def registry(s: Snapshot, queues: dict[str, tuple[str, ...]] | None = None) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(SqmCollector(QUEUES if queues is None else queues, lambda: s,
                              clock=lambda: NOW_S, blocks=lambda: 654_321))
    return reg


def render(s: Snapshot, queues: dict[str, tuple[str, ...]] | None = None) -> Samples:
    """The samples as Prometheus' parser reads them (an empty label value kept, as ``""``)."""
    out = {}
    for fam in text_string_to_metric_families(generate_latest(registry(s, queues)).decode()):
        for smp in fam.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def lines(s: Snapshot, *names: str) -> list[str]:
    """The exposition's sample lines of the metrics ``names``, in order."""
    text = generate_latest(registry(s)).decode()
    return [ln for ln in text.splitlines() if ln.split("{")[0].split(" ")[0] in names]


def window(channel: str, queue: str | None = None, **values: object) -> Indicators:
    """A final window ending at 1_799_999_940 s; ``values`` override zeros and nulls."""
    return final_window(channel, T0, queue=queue, **values)


def pq(channel: str, queue: str, **extra: str) -> tuple[tuple[str, str], ...]:
    """A sample's labels as ``render`` keys them (sorted by name)."""
    return tuple(sorted({"channel": channel, "queue": queue, **extra}.items()))


def test_counters_histograms_and_gauges() -> None:
    h = Histogram((10, 20))
    h.observe_many([5_000, 10_000, 10_001, 20_000, 99_000])  # le is inclusive
    rec = window("phone", "billing", service_level=0.75, abandonment_rate=None,
                 resolution_rate=1.0, on_time_resolution_rate=0.5, reopen_rate=0.0,
                 first_response=Summary(12_000.0, None, 30_000.0, 15_000.0, 30_000))
    m = render(Snapshot(
        events={("phone", "billing", "opened"): 3}, rejected={"orphan": 2},
        duplicate={("chat", "main"): 1},
        measured={("phone", "billing"): [3, 2, 1, 0, 0, 0, 0, 0, 0]},
        first_response={("phone", "billing"): h},
        backlog_waiting={("phone", "billing"): 4, ("chat", "main"): 0},
        backlog_open={("phone", "billing"): 5, ("chat", "main"): 1},
        oldest_waiting_ts_ms={("phone", "billing"): NOW_MS - 42_500, ("chat", "main"): None},
        windows={("phone", "billing"): rec}, watermark_ms=NOW_MS - 15_000, consumed=9,
        consumer_lag={"interactions": 1234},
    ))
    billing = pq("phone", "billing")
    assert m[("sqm_events_total", pq("phone", "billing", type="opened"))] == 3
    assert m[("sqm_events_total", pq("phone", "other", type="opened"))] == 0
    assert m[("sqm_events_total", pq("chat", "main", type="transferred"))] == 0
    assert m[("sqm_events_rejected_total", (("reason", "orphan"),))] == 2
    assert m[("sqm_events_rejected_total", (("reason", "too_large"),))] == 0
    assert m[("sqm_events_duplicate_total", pq("chat", "main"))] == 1
    assert m[("sqm_opened_total", billing)] == 3
    assert m[("sqm_answered_within_target_total", billing)] == 1
    assert m[("sqm_answered_within_target_total", pq("phone", "main"))] == 0
    b = "sqm_first_response_seconds_bucket"
    assert m[(b, pq("phone", "billing", le="10.0"))] == 2
    assert m[(b, pq("phone", "billing", le="20.0"))] == 4
    assert m[(b, pq("phone", "billing", le="+Inf"))] == 5
    assert m[("sqm_first_response_seconds_sum", billing)] == 144.001
    assert m[("sqm_oldest_wait_seconds", billing)] == 42.5
    assert m[("sqm_oldest_wait_seconds", pq("phone", ""))] == 42.5  # the roll-up
    assert m[("sqm_oldest_wait_seconds", pq("chat", "main"))] == 0
    assert m[("sqm_backlog_open", pq("chat", "main"))] == 1
    assert m[("sqm_service_level_ratio", billing)] == 0.75
    # a null window value is absent, not 0; a queue without a final window has no gauges
    assert ("sqm_abandonment_ratio", billing) not in m
    assert ("sqm_service_level_ratio", pq("phone", "")) not in m
    q = "sqm_first_response_window_seconds"
    assert m[(q, pq("phone", "billing", quantile="0.5"))] == 12.0
    assert (q, pq("phone", "billing", quantile="0.9")) not in m
    assert m[("sqm_window_end_timestamp_seconds", billing)] == 1_799_999_940
    assert m[("sqm_watermark_lag_seconds", ())] == 15.0
    assert m[("sqm_records_consumed_total", ())] == 9
    assert m[("sqm_consumer_lag_records", (("stage", "interactions"),))] == 1234
    assert m[("sqm_consumer_lag_records", (("stage", "aggregate"),))] == 0
    assert m[("sqm_python_allocated_blocks", ())] == 654_321


def queue_snapshot() -> Snapshot:
    """Per-queue values, and data of a queue ("ghost") and a channel ("fax") not configured."""
    return Snapshot(
        duplicate={("phone", "billing"): 2, ("chat", "main"): 1, ("phone", "ghost"): 9,
                   ("fax", "main"): 4},
        unlisted={"phone": 5, "fax": 3},
        backlog_waiting={("phone", "main"): 1, ("phone", "billing"): 3, ("phone", "sales"): 0,
                         ("phone", "other"): 2, ("phone", "ghost"): 8},
        oldest_waiting_ts_ms={("phone", "main"): NOW_MS - 10_000,
                              ("phone", "billing"): NOW_MS - 42_500, ("phone", "sales"): None,
                              ("phone", "other"): NOW_MS - 1_000, ("chat", "main"): None,
                              ("phone", "ghost"): NOW_MS - 99_000},
        windows={("phone", ""): window("phone", service_level=0.75),
                 ("phone", "billing"): window("phone", "billing", service_level=0.5),
                 ("phone", "sales"): window("phone", "sales"),  # null: no sample
                 ("chat", ""): window("chat", service_level=0.9),
                 ("chat", "main"): window("chat", "main", service_level=0.9),
                 ("phone", "ghost"): window("phone", "ghost", service_level=0.1),
                 ("fax", ""): window("fax", service_level=0.2)},
        alerts={("phone", "", "service_level", "warning"): 0,
                ("phone", "", "service_level", "critical"): 1,
                ("phone", "billing", "service_level", "warning"): 1,
                ("phone", "ghost", "service_level", "warning"): 1,
                ("chat", "", "no_data", "warning"): 0,
                ("fax", "", "service_level", "warning"): 1},
    )


def test_exact_exposition_with_queues() -> None:
    """Counters and the backlog per configured queue only (zeros included for counters); the
    oldest wait and the window gauges per queue and for the channel (``queue=""``), the
    channel's oldest wait being the oldest of its queues; alerts per channel (``queue=""``) and
    per queue. Nothing of "ghost" or "fax"; no backlog before the worker owns a partition."""
    assert CFG.queue_labels == QUEUES
    s = queue_snapshot()
    assert lines(s, "sqm_events_duplicate_total", "sqm_events_unlisted_queue_total") == [
        'sqm_events_duplicate_total{channel="phone",queue="main"} 0.0',
        'sqm_events_duplicate_total{channel="phone",queue="billing"} 2.0',
        'sqm_events_duplicate_total{channel="phone",queue="sales"} 0.0',
        'sqm_events_duplicate_total{channel="phone",queue="other"} 0.0',
        'sqm_events_duplicate_total{channel="chat",queue="main"} 1.0',
        'sqm_events_unlisted_queue_total{channel="phone"} 5.0',
        'sqm_events_unlisted_queue_total{channel="chat"} 0.0',
    ]
    assert lines(s, "sqm_backlog_waiting", "sqm_oldest_wait_seconds") == [
        'sqm_backlog_waiting{channel="phone",queue="main"} 1.0',
        'sqm_backlog_waiting{channel="phone",queue="billing"} 3.0',
        'sqm_backlog_waiting{channel="phone",queue="sales"} 0.0',
        'sqm_backlog_waiting{channel="phone",queue="other"} 2.0',
        'sqm_oldest_wait_seconds{channel="phone",queue=""} 42.5',
        'sqm_oldest_wait_seconds{channel="phone",queue="main"} 10.0',
        'sqm_oldest_wait_seconds{channel="phone",queue="billing"} 42.5',
        'sqm_oldest_wait_seconds{channel="phone",queue="sales"} 0.0',
        'sqm_oldest_wait_seconds{channel="phone",queue="other"} 1.0',
        'sqm_oldest_wait_seconds{channel="chat",queue=""} 0.0',
        'sqm_oldest_wait_seconds{channel="chat",queue="main"} 0.0',
    ]
    assert lines(s, "sqm_service_level_ratio", "sqm_window_end_timestamp_seconds") == [
        'sqm_service_level_ratio{channel="phone",queue=""} 0.75',
        'sqm_service_level_ratio{channel="phone",queue="billing"} 0.5',
        'sqm_service_level_ratio{channel="chat",queue=""} 0.9',
        'sqm_service_level_ratio{channel="chat",queue="main"} 0.9',
        'sqm_window_end_timestamp_seconds{channel="phone",queue=""} 1.79999994e+09',
        'sqm_window_end_timestamp_seconds{channel="phone",queue="billing"} 1.79999994e+09',
        'sqm_window_end_timestamp_seconds{channel="phone",queue="sales"} 1.79999994e+09',
        'sqm_window_end_timestamp_seconds{channel="chat",queue=""} 1.79999994e+09',
        'sqm_window_end_timestamp_seconds{channel="chat",queue="main"} 1.79999994e+09',
    ]
    assert lines(s, "sqm_alert_active") == [
        'sqm_alert_active{channel="chat",indicator="no_data",queue="",severity="warning"} 0.0',
        'sqm_alert_active{channel="phone",indicator="service_level",queue="",severity="critical"} 1.0',
        'sqm_alert_active{channel="phone",indicator="service_level",queue="",severity="warning"} 0.0',
        'sqm_alert_active{channel="phone",indicator="service_level",queue="billing",severity="warning"} 1.0',
    ]
    assert not lines(Snapshot(), "sqm_backlog_waiting", "sqm_oldest_wait_seconds")


def test_summable_series_have_no_roll_up_and_non_summable_ones_have_one() -> None:
    """``sum by (channel)`` of a counter or the backlog counts each queue once: no series of
    theirs has ``queue=""``; every configured (channel, queue) has a counter series."""
    h = Histogram((10,))
    h.observe_many([1_000])
    per_queue = {(ch, q): 1 for ch, qs in QUEUES.items() for q in qs}
    m = render(Snapshot(
        events={(ch, q, "opened"): 1 for ch, q in per_queue}, duplicate=per_queue,
        late=per_queue, measured={k: [1] * 9 for k in per_queue},
        first_response=dict.fromkeys(per_queue, h), resolution=dict.fromkeys(per_queue, h),
        backlog_waiting=per_queue, backlog_open=per_queue,
        oldest_waiting_ts_ms=dict.fromkeys(per_queue, NOW_MS - 1_000),
        windows={(ch, q): window(ch, q or None, service_level=1.0)
                 for ch, qs in QUEUES.items() for q in ("", *qs)},
    ))
    roll_ups = {name for (name, labels) in m if ("queue", "") in labels}
    assert roll_ups == {
        "sqm_oldest_wait_seconds", "sqm_service_level_ratio", "sqm_window_end_timestamp_seconds"}
    for name in ("sqm_events_duplicate_total", "sqm_opened_total", "sqm_backlog_open",
                 "sqm_first_response_seconds_count", "sqm_feedback_total", "sqm_csat_score_sum"):
        assert {labels for (n, labels) in m if n == name} \
            == {pq(ch, q) for ch, q in per_queue}, name
    by_channel = {ch: sum(v for (n, labels), v in m.items()
                          if n == "sqm_opened_total" and ("channel", ch) in labels)
                  for ch in QUEUES}
    assert by_channel == {"phone": 4, "chat": 1}


def test_a_channel_or_queue_not_configured_is_not_exported() -> None:
    """Data for "fax" (configured once, say, and still in a restored state) and for a queue
    "ghost" must not become label values: labels come from the config only."""
    h = Histogram((10,))
    h.observe_many([1_000])
    keys = [("phone", "main"), ("phone", "ghost"), ("fax", "main")]
    per_queue = {k: 1 + 6 * (k != ("phone", "main")) for k in keys}
    m = render(Snapshot(
        events={(ch, q, "opened"): n for (ch, q), n in per_queue.items()}, duplicate=per_queue,
        late=per_queue, unlisted={"phone": 1, "fax": 7},
        measured={k: [n] * 9 for k, n in per_queue.items()},
        first_response=dict.fromkeys(keys, h), resolution=dict.fromkeys(keys, h),
        backlog_waiting=per_queue, backlog_open=per_queue,
        oldest_waiting_ts_ms={("phone", "main"): None, ("phone", "ghost"): NOW_MS - 1_000,
                              ("fax", "main"): NOW_MS - 1_000},
        windows={("phone", "main"): window("phone", "main", service_level=1.0),
                 ("phone", "ghost"): window("phone", "ghost", service_level=0.5),
                 ("fax", ""): window("fax", service_level=0.5,
                                     first_response=Summary(1.0, 1.0, 1.0, 1.0, 1))},
    ))
    labelled = [dict(labels) for (_n, labels) in m if "channel" in dict(labels)]
    assert {d["channel"] for d in labelled} == set(QUEUES)
    assert {d["queue"] for d in labelled if "queue" in d} == {"", *QUEUES["phone"]}
    assert m[("sqm_service_level_ratio", pq("phone", "main"))] == 1.0
    assert m[("sqm_backlog_open", pq("phone", "main"))] == 1
    assert m[("sqm_events_late_total", pq("phone", "main"))] == 1
    assert m[("sqm_oldest_wait_seconds", pq("phone", ""))] == 0  # ghost's wait is not phone's
    assert m[("sqm_events_unlisted_queue_total", (("channel", "phone"),))] == 1
    assert ("sqm_watermark_lag_seconds", ()) not in m  # no watermark yet


def test_alert_active_follows_the_snapshot_for_configured_channels_and_queues() -> None:
    m = render(Snapshot(alerts={("phone", "", "service_level", "critical"): 1,
                                ("phone", "", "service_level", "warning"): 0,
                                ("phone", "other", "oldest_wait_s", "critical"): 1,
                                ("chat", "", "no_data", "warning"): 0,
                                ("chat", "billing", "no_data", "warning"): 1,  # not chat's
                                ("fax", "", "service_level", "warning"): 1}))
    got = {labels: v for (name, labels), v in m.items() if name == "sqm_alert_active"}

    def key(ch: str, q: str, indicator: str, severity: str) -> tuple[tuple[str, str], ...]:
        return (("channel", ch), ("indicator", indicator), ("queue", q), ("severity", severity))

    assert got == {
        key("phone", "", "service_level", "critical"): 1,
        key("phone", "", "service_level", "warning"): 0,
        key("phone", "other", "oldest_wait_s", "critical"): 1,
        key("chat", "", "no_data", "warning"): 0,
    }


def lifecycle(eid: str, iid: str, etype: str, ts: int, channel: str = "phone",
              **extra: object) -> tuple[int, bytes, bytes]:
    value = {"event_id": eid, "interaction_id": iid, "channel": channel, "type": etype, "ts": ts,
             **extra}
    return (0, iid.encode(), json.dumps(value).encode())


def test_a_batch_counts_in_the_queue_of_the_interaction() -> None:
    """A real stage-one batch: A opens in billing and is answered there after 25 s (within
    billing's 30 s); B opens in sales, moves to billing and is answered after 40 s (late);
    C opens in an undeclared queue (other, counted unlisted) and moves to another (unlisted
    again); D, in chat, names no queue (main)."""
    proc = PartitionProcessor(domain_params(CFG), "sqm.interactions.v1", 0)
    res = proc.process([
        lifecycle("a1", "A", "opened", T0, queue="billing"),
        lifecycle("a2", "A", "responded", T0 + 25_000, queue="sales"),  # ignored on responded
        lifecycle("b1", "B", "opened", T0 + 1_000, queue="sales"),
        lifecycle("b2", "B", "transferred", T0 + 2_000, queue="billing"),
        lifecycle("b3", "B", "responded", T0 + 41_000),
        lifecycle("c1", "C", "opened", T0 + 3_000, queue="nope"),
        lifecycle("c2", "C", "transferred", T0 + 4_000, queue="nada"),
        lifecycle("d1", "D", "opened", T0 + 5_000, channel="chat"),
    ], NOW_MS)
    stats = Stats(CFG.queue_labels, [20, 30, 60], [600, 1800])
    stats.add_batch(res)
    stats.add_batch(proc.advance(NOW_MS, idle=True))  # what the reorder buffer still held
    m = render(stats.snapshot())

    def events(q: str, etype: str, ch: str = "phone") -> float:
        return m[("sqm_events_total", pq(ch, q, type=etype))]

    assert (events("billing", "opened"), events("sales", "opened"), events("other", "opened"),
            events("main", "opened", "chat")) == (1, 1, 1, 1)
    assert (events("billing", "transferred"), events("other", "transferred")) == (1, 1)
    assert events("billing", "responded") == 2
    assert m[("sqm_opened_total", pq("phone", "billing"))] == 1
    assert m[("sqm_opened_total", pq("phone", "sales"))] == 1
    assert m[("sqm_answered_total", pq("phone", "billing"))] == 2
    assert m[("sqm_answered_within_target_total", pq("phone", "billing"))] == 1
    assert m[("sqm_answered_total", pq("phone", "sales"))] == 0
    assert m[("sqm_first_response_seconds_sum", pq("phone", "billing"))] == 65.0
    assert m[("sqm_events_unlisted_queue_total", (("channel", "phone"),))] == 2
    assert m[("sqm_events_unlisted_queue_total", (("channel", "chat"),))] == 0


def test_survey_counters_from_a_batch() -> None:
    """SPEC 7.4's survey metrics, from a real stage-one batch of three phone surveys (two in
    one window, one in the next: counters sum over windows) and one chat survey; a channel
    without declared queues labels its series with its default queue."""
    def fb(eid: str, ts: int, channel: str, **f: object) -> tuple[int, bytes, bytes]:
        value = {"event_id": eid, "interaction_id": eid.upper(), "channel": channel,
                 "type": "feedback", "ts": ts, "feedback": f}
        return (0, eid.upper().encode(), json.dumps(value).encode())

    proc = PartitionProcessor(domain_params(Config()), "sqm.interactions.v1", 0)
    res = proc.process([
        fb("a", T0, "phone", csat=5, nps=10, servqual={"empathy": {"expected": 6, "perceived": 4}}),
        fb("b", T0 + 1_000, "phone", csat=2, nps=6, complaint=True),
        fb("c", T0 + 60_000, "phone", csat=4, nps=8, complaint=False,
           servqual={"empathy": {"expected": 7, "perceived": 7},
                     "tangibles": {"expected": 3, "perceived": 5}}),
        fb("d", T0, "chat", nps=9),
    ], NOW_MS, idle=True)  # idle: every survey is applied (they wait out the reorder like events)
    default: dict[str, tuple[str, ...]] = {"phone": ("main",), "chat": ("main",)}
    stats = Stats(default, [20, 60], [600, 1800])
    stats.add_batch(res)
    m = render(stats.snapshot(), default)
    phone, chat = pq("phone", "main"), pq("chat", "main")
    assert m[("sqm_feedback_total", phone)] == 3
    assert m[("sqm_feedback_total", chat)] == 1
    assert m[("sqm_events_total", pq("phone", "main", type="feedback"))] == 3
    assert m[("sqm_csat_score_count", phone)] == 3
    assert m[("sqm_csat_score_sum", phone)] == 11
    assert m[("sqm_csat_score_count", chat)] == 0
    assert m[("sqm_csat_satisfied_total", phone)] == 2
    assert m[("sqm_nps_score_count", phone)] == 3
    assert m[("sqm_nps_score_sum", phone)] == 24
    assert m[("sqm_nps_promoters_total", phone)] == 1
    assert m[("sqm_nps_detractors_total", phone)] == 1
    assert m[("sqm_nps_promoters_total", chat)] == 1
    assert m[("sqm_complaints_total", phone)] == 1
    emp = pq("phone", "main", dimension="empathy")
    tan = pq("phone", "main", dimension="tangibles")
    assert m[("sqm_servqual_responses_total", emp)] == 2
    assert m[("sqm_servqual_expected_points_total", emp)] == 13
    assert m[("sqm_servqual_perceived_points_total", emp)] == 11
    assert m[("sqm_servqual_perceived_points_total", tan)] == 5
    assert m[("sqm_servqual_responses_total", pq("chat", "main", dimension="empathy"))] == 0
