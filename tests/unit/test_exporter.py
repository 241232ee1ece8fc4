"""The Prometheus collector renders a hand-built snapshot exactly (SPEC section 4)."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from stream_harness import final_window

from monitor.config import Config, domain_params
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.sketch import Summary
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import Histogram, Snapshot, Stats
from monitor.stages.interactions.processor import PartitionProcessor

CHANNELS = ("phone", "chat")
NOW_S = 1_800_000_000.0


def render(s: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reg = CollectorRegistry()
    reg.register(SqmCollector(CHANNELS, lambda: s, clock=lambda: NOW_S, blocks=lambda: 654_321))
    out = {}
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        for smp in fam.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def window(channel: str, **values: object) -> Indicators:
    """A final window ending at 1_799_999_940 s; ``values`` override zeros and nulls."""
    return final_window(channel, 1_799_999_880_000, **values)


def test_counters_histograms_and_gauges() -> None:
    h = Histogram((10, 20))
    h.observe_many([5_000, 10_000, 10_001, 20_000, 99_000])  # le is inclusive
    rec = window("phone", service_level=0.75, abandonment_rate=None, resolution_rate=1.0,
                 on_time_resolution_rate=0.5, reopen_rate=0.0,
                 first_response=Summary(12_000.0, None, 30_000.0, 15_000.0, 30_000))
    m = render(Snapshot(
        events={("phone", "opened"): 3}, rejected={"orphan": 2}, duplicate={"chat": 1},
        measured={"phone": [3, 2, 1, 0, 0, 0, 0, 0, 0]}, first_response={"phone": h},
        backlog_waiting={"phone": 4, "chat": 0}, backlog_open={"phone": 5, "chat": 1},
        oldest_waiting_ts_ms={"phone": int(NOW_S * 1000) - 42_500, "chat": None},
        windows={"phone": rec}, watermark_ms=int(NOW_S * 1000) - 15_000, consumed=9,
        consumer_lag={"interactions": 1234},
    ))
    assert m[("sqm_events_total", (("channel", "phone"), ("type", "opened")))] == 3
    assert m[("sqm_events_total", (("channel", "chat"), ("type", "opened")))] == 0
    assert m[("sqm_events_rejected_total", (("reason", "orphan"),))] == 2
    assert m[("sqm_events_rejected_total", (("reason", "too_large"),))] == 0
    assert m[("sqm_events_duplicate_total", (("channel", "chat"),))] == 1
    assert m[("sqm_opened_total", (("channel", "phone"),))] == 3
    assert m[("sqm_answered_within_target_total", (("channel", "phone"),))] == 1
    b = "sqm_first_response_seconds_bucket"
    assert m[(b, (("channel", "phone"), ("le", "10.0")))] == 2
    assert m[(b, (("channel", "phone"), ("le", "20.0")))] == 4
    assert m[(b, (("channel", "phone"), ("le", "+Inf")))] == 5
    assert m[("sqm_first_response_seconds_sum", (("channel", "phone"),))] == 144.001
    assert m[("sqm_oldest_wait_seconds", (("channel", "phone"),))] == 42.5
    assert m[("sqm_oldest_wait_seconds", (("channel", "chat"),))] == 0
    assert m[("sqm_backlog_open", (("channel", "chat"),))] == 1
    assert m[("sqm_service_level_ratio", (("channel", "phone"),))] == 0.75
    # a null window value is absent, not 0; a channel without a final window has no gauges
    assert ("sqm_abandonment_ratio", (("channel", "phone"),)) not in m
    assert ("sqm_service_level_ratio", (("channel", "chat"),)) not in m
    q = "sqm_first_response_window_seconds"
    assert m[(q, (("channel", "phone"), ("quantile", "0.5")))] == 12.0
    assert (q, (("channel", "phone"), ("quantile", "0.9"))) not in m
    assert m[("sqm_window_end_timestamp_seconds", (("channel", "phone"),))] == 1_799_999_940
    assert m[("sqm_watermark_lag_seconds", ())] == 15.0
    assert m[("sqm_records_consumed_total", ())] == 9
    assert m[("sqm_consumer_lag_records", (("stage", "interactions"),))] == 1234
    assert m[("sqm_consumer_lag_records", (("stage", "aggregate"),))] == 0
    assert m[("sqm_python_allocated_blocks", ())] == 654_321


def test_a_channel_no_longer_configured_is_not_exported() -> None:
    """Data for "fax" (configured once, say, and still in a restored state) must not become a
    label value: labels come from the configured channels only."""
    h = Histogram((10,))
    h.observe_many([1_000])
    per_channel = {"phone": 1, "fax": 7}
    m = render(Snapshot(
        events={("phone", "opened"): 1, ("fax", "opened"): 7}, duplicate=per_channel,
        late=per_channel, measured={"phone": [1] * 9, "fax": [7] * 9},
        first_response={"phone": h, "fax": h}, resolution={"phone": h, "fax": h},
        backlog_waiting=per_channel, backlog_open=per_channel,
        oldest_waiting_ts_ms={"phone": None, "fax": int(NOW_S * 1000) - 1_000},
        windows={"phone": window("phone", service_level=1.0),
                 "fax": window("fax", service_level=0.5, first_response=Summary(1.0, 1.0, 1.0, 1.0, 1))},
    ))
    channels = {dict(labels)["channel"] for (_n, labels) in m if "channel" in dict(labels)}
    assert channels == set(CHANNELS)
    assert m[("sqm_service_level_ratio", (("channel", "phone"),))] == 1.0
    assert m[("sqm_backlog_open", (("channel", "phone"),))] == 1
    assert m[("sqm_events_late_total", (("channel", "phone"),))] == 1
    assert ("sqm_watermark_lag_seconds", ()) not in m  # no watermark yet


def test_alert_active_follows_the_snapshot_for_configured_channels() -> None:
    m = render(Snapshot(alerts={("phone", "service_level", "critical"): 1,
                                ("phone", "service_level", "warning"): 0,
                                ("chat", "no_data", "warning"): 0,
                                ("fax", "service_level", "warning"): 1}))
    got = {labels: v for (name, labels), v in m.items() if name == "sqm_alert_active"}
    assert got == {
        (("channel", "phone"), ("indicator", "service_level"), ("severity", "critical")): 1,
        (("channel", "phone"), ("indicator", "service_level"), ("severity", "warning")): 0,
        (("channel", "chat"), ("indicator", "no_data"), ("severity", "warning")): 0,
    }


def test_survey_counters_from_a_batch() -> None:
    """SPEC 7.4's survey metrics, from a real stage-one batch of three phone surveys (two in
    one window, one in the next: counters sum over windows) and one chat survey."""
    def fb(eid: str, ts: int, channel: str, **f: object) -> tuple[int, bytes, bytes]:
        value = {"event_id": eid, "interaction_id": eid.upper(), "channel": channel,
                 "type": "feedback", "ts": ts, "feedback": f}
        return (0, eid.upper().encode(), json.dumps(value).encode())

    t0 = 1_799_999_880_000
    proc = PartitionProcessor(domain_params(Config()), "sqm.interactions.v1", 0)
    res = proc.process([
        fb("a", t0, "phone", csat=5, nps=10, servqual={"empathy": {"expected": 6, "perceived": 4}}),
        fb("b", t0 + 1_000, "phone", csat=2, nps=6, complaint=True),
        fb("c", t0 + 60_000, "phone", csat=4, nps=8, complaint=False,
           servqual={"empathy": {"expected": 7, "perceived": 7},
                     "tangibles": {"expected": 3, "perceived": 5}}),
        fb("d", t0, "chat", nps=9),
    ], int(NOW_S * 1000))
    stats = Stats(CHANNELS, [20, 60], [600, 1800])
    stats.add_batch(res)
    m = render(stats.snapshot())
    phone, chat = (("channel", "phone"),), (("channel", "chat"),)
    assert m[("sqm_feedback_total", phone)] == 3
    assert m[("sqm_feedback_total", chat)] == 1
    assert m[("sqm_events_total", (("channel", "phone"), ("type", "feedback")))] == 3
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
    emp = (("channel", "phone"), ("dimension", "empathy"))
    tan = (("channel", "phone"), ("dimension", "tangibles"))
    assert m[("sqm_servqual_responses_total", emp)] == 2
    assert m[("sqm_servqual_expected_points_total", emp)] == 13
    assert m[("sqm_servqual_perceived_points_total", emp)] == 11
    assert m[("sqm_servqual_perceived_points_total", tan)] == 5
    assert m[("sqm_servqual_responses_total", (("channel", "chat"), ("dimension", "empathy")))] == 0
