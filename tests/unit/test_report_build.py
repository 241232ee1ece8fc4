"""``monitor.report.build.build_report`` on hand-built records with hand-worked figures, decoded
by ``monitor.report.read.decode_inputs`` as the command does.

Scenario, range [10:00, 12:00) of 2026-11-21, channels phone and chat, one threshold rule
(service_level < 0.8, counted from 1 contact), one SLO (service_level, objective 0.8), the
default quality weights (all eight scores 1/8):

* phone 10:00: 9 of 10 answered in time (SL 0.9); phone 10:01: 4 of 8 in time, 2 abandoned
  (SL 0.4), **read twice**; phone 09:59: 100 answered late, **out of range**;
* chat 10:00: 5 of 5 in time, two CSAT answers of mean 4.5, two SERVQUAL reliability answers,
  expected mean 6, perceived mean 5 (gap -1);
* one phone service_level episode, firing at window 10:01 (record read twice), resolved at window
  10:05-10:06; a chat alert at 12:00 (out of range);
* phone quality index 80 at 10:00 and 70 at 11:00 (the 10:00 one twice), 10 at 12:00 (out of
  range), and a consistency record (not a channel's).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from stream_harness import at, final_window, iso_s

from monitor.config import Config, from_mapping
from monitor.contract import indicators as indicators_wire
from monitor.contract import quality as quality_wire
from monitor.contract import queues as queues_wire
from monitor.contract.indicators import record
from monitor.domain.report.attainment import Attainment, Hour, Target
from monitor.domain.report.review import Episode, Finding
from monitor.domain.stream.indicators import NO_SURVEY, Dimension
from monitor.kafka.reader import Record
from monitor.report import read
from monitor.report.build import build_report, report_channels
from monitor.report.model import Report
from monitor.report.read import decode_inputs

M = 60_000
FROM, TO, NOW = at("10:00:00"), at("12:00:00"), at("13:00:00")

CFG: Config = from_mapping({
    "channels": {"phone": {"first_response_target_s": 20, "resolution_target_s": 3600},
                 "chat": {"first_response_target_s": 60, "resolution_target_s": 7200},
                 "email": {"first_response_target_s": 600, "resolution_target_s": 86400}},
    "alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "min_volume": 1,
                "for_windows": 1, "clear_windows": 1}],
    "slos": [{"name": "answered_in_time", "indicator": "service_level", "objective": 0.8}],
}, env={})

PHONE_0 = record(final_window("phone", FROM, opened=10, answered=10, answered_within_target=9,
                              service_level=0.9, abandonment_rate=0.0))
PHONE_1 = record(final_window("phone", FROM + M, opened=10, answered=8, answered_within_target=4,
                              abandoned=2, service_level=0.4, abandonment_rate=0.2))
PHONE_BEFORE = record(final_window("phone", FROM - M, opened=100, answered=100,
                                   answered_within_target=0, service_level=0.0,
                                   abandonment_rate=0.0))
CHAT_0 = record(final_window(
    "chat", FROM, opened=5, answered=5, answered_within_target=5, service_level=1.0,
    abandonment_rate=0.0, feedback_responses=2, csat_responses=2, csat_mean=4.5,
    csat_satisfied_ratio=1.0, servqual=(Dimension(2, 6.0, 5.0, -1.0),) + (NO_SURVEY,) * 4))
INDICATORS = [PHONE_0, PHONE_1, PHONE_BEFORE, CHAT_0, dict(PHONE_1)]


def alert(channel: str, state: str, start_ms: int, since_ms: int, value: float,
          queue: str | None = None) -> dict[str, Any]:
    """An ``sqm.alerts.v1`` value as SPEC sections 3 and 9 write it (``queue``: a queue alert)."""
    subject = channel if queue is None else f"{channel}/{queue}"
    return {"schema": "sqm.alerts.v1", "alert_id": f"{subject}/service_level/{iso_s(since_ms)}",
            "channel": channel, **({} if queue is None else {"queue": queue}),
            "indicator": "service_level", "severity": "warning",
            "state": state, "value": value, "threshold": 0.8, "op": "<",
            "window_start": iso_s(start_ms), "window_end": iso_s(start_ms + M),
            "since": iso_s(since_ms), "summary": "-"}


FIRING = alert("phone", "firing", FROM + M, FROM + M, 0.4)
ALERTS = [FIRING, dict(FIRING), alert("phone", "resolved", FROM + 5 * M, FROM + M, 0.9),
          alert("chat", "firing", TO, TO, 0.1)]


def quality(channel: str, start_ms: int, index: float | None) -> dict[str, Any]:
    """An ``sqm.quality.v1`` channel value as SPEC 7.4 writes it (only the fields read here)."""
    return {"schema": "sqm.quality.v1", "kind": "channel", "period_start": iso_s(start_ms),
            "period_end": iso_s(start_ms + 60 * M), "channel": channel, "quality_index": index,
            "scores": {}, "weights": {"service_level": 1.0}, "method": "expert",
            "servqual_gap": {}}


CONSISTENCY = {"schema": "sqm.quality.v1", "kind": "consistency", "period_start": iso_s(FROM),
               "period_end": iso_s(FROM + 60 * M), "scores": {}}
QUALITY = [quality("phone", FROM, 80.0), quality("phone", FROM + 60 * M, 70.0),
           quality("phone", FROM, 80.0), quality("phone", TO, 10.0), CONSISTENCY]


def build(cfg: Config, indicators: list[dict[str, Any]], alerts: list[dict[str, Any]],
          quality: list[dict[str, Any]], channels: tuple[str, ...],
          queues: list[dict[str, Any]] | None = None) -> Report:
    """The records as ``sqm report`` has them: decoded, then built into the range's report."""
    return build_report(cfg, decode_inputs(cfg, indicators, alerts, quality, queues or []), FROM,
                        TO, channels, NOW)


@pytest.fixture(scope="module")
def report() -> Any:
    return build(CFG, INDICATORS, ALERTS, QUALITY, ("chat", "phone"))


def test_channels_in_config_order_and_header(report: Any) -> None:
    assert report.channels == ("phone", "chat")
    assert (report.from_ms, report.to_ms, report.generated_at_ms) == (FROM, TO, NOW)
    assert (report.window_s, report.period_s, report.method) == (60, 3600, "expert")
    assert report.windows == 2  # 10:00 and 10:01; 09:59 is out of range
    assert report_channels(CFG, ()) == ("phone", "chat", "email")


def test_sums_count_a_duplicate_once_and_ignore_out_of_range(report: Any) -> None:
    phone = report.sums["phone"]
    assert (phone.answered, phone.answered_within_target, phone.abandoned) == (18, 13, 2)
    assert (report.sums["chat"].csat_responses, report.sums["chat"].csat_sum) == (2, 9)
    assert (report.overall.answered, report.overall.answered_within_target,
            report.overall.abandoned, report.overall.offered) == (23, 18, 2, 25)
    assert report.series == {"phone": [(FROM, 0.9), (FROM + M, 0.4)], "chat": [(FROM, 1.0)]}


def test_targets_against_the_period_sums(report: Any) -> None:
    rows = {(t.channel, t.kind, t.what): t for t in report.targets}
    slo = rows[("phone", "slo", "answered_in_time")]
    assert (slo.actual, slo.met, slo.volume) == (13 / 20, False, 20)  # not (0.9 + 0.4) / 2
    assert rows[("chat", "slo", "answered_in_time")].met is True
    assert rows[("phone", "time", "first_response")].limit_s == 20
    assert rows[("phone", "threshold", "service_level")].target == 0.8


def test_sla_attainment(report: Any) -> None:
    rows = {a.channel: a for a in report.attainment}
    assert (rows["phone"].windows, rows["phone"].met, rows["phone"].share,
            rows["phone"].volume) == (2, 1, 0.5, 20)
    assert (rows["chat"].windows, rows["chat"].met, rows["chat"].share) == (1, 1, 1.0)


def test_error_budget(report: Any) -> None:
    phone = next(b for b in report.budgets if b.channel == "phone")
    # 7 bad of 20; allowed (1 - 0.8) x 20 = 4 bad: 1.75 of the budget spent
    assert (phone.good, phone.total, phone.bad) == (13, 20, 7)
    assert phone.allowed_bad == pytest.approx(4.0)
    assert phone.spent == pytest.approx(1.75)
    chat = next(b for b in report.budgets if b.channel == "chat")
    assert (chat.bad, chat.spent) == (0, 0.0)


def test_alert_episode_once_despite_the_duplicate(report: Any) -> None:
    assert len(report.episodes) == 1
    e = report.episodes[0]
    assert (e.channel, e.indicator, e.worst_severity) == ("phone", "service_level", "warning")
    assert (e.since_ms, e.resolved_ms) == (FROM + M, FROM + 6 * M)
    assert (e.duration_ms, e.time_to_resolve_ms, e.escalations) == (5 * M, 5 * M, 0)
    assert report.alert_time_ms == {"phone": 5 * M}


def test_an_episode_that_fired_before_the_range_counts() -> None:
    # chat fired at 09:30 and is still open; email fired at 09:00 and resolved at 09:10
    before = [alert("chat", "firing", FROM - 30 * M, FROM - 30 * M, 0.1),
              alert("email", "firing", FROM - 60 * M, FROM - 60 * M, 0.1),
              alert("email", "resolved", FROM - 50 * M, FROM - 60 * M, 0.9)]
    r = build(CFG, INDICATORS, [*ALERTS, *before], QUALITY, ())
    chat = [e for e in r.episodes if e.channel == "chat"]
    assert [(e.since_ms, e.resolved_ms, e.duration_ms) for e in chat] == [(FROM - 30 * M, None, TO - FROM)]
    assert not [e for e in r.episodes if e.channel == "email"]
    assert r.alert_time_ms == {"chat": TO - FROM, "phone": 5 * M}


def test_quality_trend(report: Any) -> None:
    trend = report.trends["phone"]
    assert [p.quality_index for p in trend.periods] == [80.0, 70.0]
    assert (trend.mean, trend.first, trend.last) == (75.0, 80.0, 70.0)
    # two hours: the change over the range, no slope per day (it would read -240 points a day)
    assert (trend.change, trend.slope_per_day) == (-10.0, None)
    assert set(report.trends) == {"phone"}


def test_gaps_spread_and_findings(report: Any) -> None:
    assert report.gaps.per_channel["chat"]["reliability"] == -1.0
    assert report.gaps.per_channel["phone"]["reliability"] is None
    sl = report.spread["service_level"]
    assert (sl.mean, sl.stddev, sl.best_channel, sl.worst_channel) == (
        pytest.approx(0.825), pytest.approx(0.175), "chat", "phone")
    # equal weights: phone (0.65 + 0.9) / 2; chat (1 + 1 + 0.875 + 5/12) / 4
    qi = report.spread["quality_index"]
    assert qi.mean == pytest.approx((77.5 + 100 * (2.875 + 5 / 12) / 4) / 2)
    assert report.findings == [Finding("gaps", "chat", "reliability", -1.0),
                               Finding("attainment", "phone", "service_level", 0.5),
                               Finding("alerts", "phone", "", 5 * M)]


def test_worst_hours_overall_then_per_channel(report: Any) -> None:
    assert report.worst_hours == [Hour(None, FROM, 18 / 25, 18, 25), Hour("phone", FROM, 0.65, 13, 20)]


def test_entropy_takes_the_latest_records_weights() -> None:
    cfg = from_mapping({"channels": {"phone": {}, "chat": {}}, "quality": {"method": "entropy"}},
                       env={})
    got = build(cfg, INDICATORS, [], QUALITY, ())
    # weights {service_level: 1}: the index is the service level x 100
    qi = got.spread["quality_index"]
    assert qi is not None and qi.mean == pytest.approx(100 * (0.65 + 1.0) / 2)
    assert got.method == "entropy"


def test_a_record_that_does_not_decode_is_skipped() -> None:
    bad = dict(PHONE_0, answered="ten", window_start=iso_s(FROM + 2 * M))
    got = build(CFG, [*INDICATORS, bad], ALERTS, QUALITY, ("phone",))
    assert got.sums["phone"].answered == 18 and got.channels == ("phone",)
    assert not math.isnan(got.budgets[0].spent or 0.0)


NPS = record(final_window("chat", FROM + M, feedback_responses=3, nps_responses=3, nps=100 / 3,
                          complaints=1, complaint_rate=1 / 3))


@pytest.mark.parametrize("d", [PHONE_0, CHAT_0, NPS, dict(CHAT_0, csat_mean=None),
                               dict(NPS, complaints=-1)])
def test_a_windows_sums_are_the_quality_stages(d: dict[str, Any]) -> None:
    """The report decodes a record once (``contract.indicators``); its integer sums must be those
    the quality stage takes from the same bytes, so the report's SERVQUAL gaps are the stage's."""
    stage: Any
    try:
        stage = quality_wire.decode_window(orjson.dumps(d), frozenset({"phone", "chat"}), M).sums
    except indicators_wire.BadRecord as exc:
        stage = str(exc)
    mine: Any
    try:
        mine = indicators_wire.sums_of(indicators_wire.decode(d, M))
    except indicators_wire.BadRecord as exc:
        mine = str(exc)
    assert mine == stage


# --- queues (SPEC 9) -----------------------------------------------------------------------
#
# chat declares billing (first response within 30 s) and sales; main, its default queue, is
# declared implicitly; phone declares none. Rules: the channel's service_level < 0.8 and
# oldest_wait_s > "2x", billing's own service_level < 0.5, and abandonment_rate > 0.2 on every
# queue of chat. So billing is judged by oldest_wait_s > 60 s (2 x its 30 s), its own
# service_level < 0.5 and abandonment_rate > 0.2; main and sales (and other) by service_level
# < 0.8, oldest_wait_s > 120 s and abandonment_rate > 0.2.
#
# Windows (answered, in target, abandoned):   10:00          10:01
#   main                                      4, 4, 0        2, 2, 0
#   billing                                   10, 6, 0       4, 1, 1   (oldest wait 90 s, none)
#   sales                                     2, 1, 2        empty
#   other (an undeclared queue, from 10:01)   -              1, 0, 0
# chat's channel records are their roll-ups: 16, 11, 2 and 7, 3, 1.

CFG_Q: Config = from_mapping({
    "channels": {
        "phone": {"first_response_target_s": 20, "resolution_target_s": 3600},
        "chat": {"first_response_target_s": 60, "resolution_target_s": 7200,
                 "queues": {"billing": {"first_response_target_s": 30}, "sales": {}}},
    },
    "alerts": [
        {"indicator": "service_level", "op": "<", "warning": 0.8, "min_volume": 1},
        {"indicator": "oldest_wait_s", "op": ">", "warning": "2x"},
        {"indicator": "service_level", "op": "<", "warning": 0.5, "min_volume": 1,
         "channels": ["chat"], "queues": ["billing"]},
        {"indicator": "abandonment_rate", "op": ">", "warning": 0.2, "min_volume": 1,
         "channels": ["chat"], "queues": ["*"]},
    ],
    "slos": [{"name": "answered_in_time", "indicator": "service_level", "objective": 0.8},
             {"name": "queue_in_time", "indicator": "service_level", "objective": 0.9,
              "channels": ["chat"], "by": ["queue"]}],
}, env={})


def counts(answered: int, awt: int, abandoned: int) -> dict[str, Any]:
    offered = answered + abandoned
    return dict(opened=offered, answered=answered, answered_within_target=awt,
                abandoned=abandoned, service_level=awt / offered if offered else None,
                abandonment_rate=abandoned / offered if offered else None)


def qrec(queue: str, start_ms: int, *c: int, **extra: Any) -> dict[str, Any]:
    """A chat queue's ``sqm.queues.v1`` value, as ``contract.queues`` writes it."""
    return queues_wire.record(final_window("chat", start_ms, queue=queue,
                                           **(counts(*c) if c else {}), **extra))


QUEUE_RECORDS = [
    qrec("main", FROM, 4, 4, 0), qrec("main", FROM + M, 2, 2, 0),
    qrec("billing", FROM, 10, 6, 0, oldest_wait_ms=90_000), qrec("billing", FROM + M, 4, 1, 1),
    qrec("sales", FROM, 2, 1, 2), qrec("sales", FROM + M),
    qrec("other", FROM + M, 1, 0, 0),
    qrec("billing", FROM + M, 4, 1, 1),  # read twice
    qrec("billing", FROM - M, 100, 0, 0),  # out of range
    qrec("legacy", FROM, 50, 0, 0),  # a queue the config no longer has
    dict(qrec("sales", FROM + 2 * M, 1, 1, 0), queue=None),  # does not decode: skipped
    queues_wire.record(final_window("phone", FROM, queue="main", **counts(9, 0, 0))),  # no queues
]
CHAT_ROLLUP = [record(final_window("chat", FROM, **counts(16, 11, 2))),
               record(final_window("chat", FROM + M, **counts(7, 3, 1)))]
QUEUE_ALERTS = [
    alert("chat", "firing", FROM, FROM, 11 / 18), alert("chat", "resolved", FROM + M, FROM, 0.9),
    alert("chat", "firing", FROM + M, FROM + M, 0.2, "billing"),
    alert("chat", "resolved", FROM + 3 * M, FROM + M, 0.6, "billing"),
]


@pytest.fixture(scope="module")
def queued() -> Report:
    return build(CFG_Q, CHAT_ROLLUP, QUEUE_ALERTS, [], (), QUEUE_RECORDS)


def test_the_queues_listed_under_their_channel(queued: Report) -> None:
    # phone declares none: not listed; other had windows in the range: listed last
    assert queued.queues == {"chat": ("main", "billing", "sales", "other")}
    without_other = build(CFG_Q, CHAT_ROLLUP, [], [], (), QUEUE_RECORDS[:6])
    assert without_other.queues == {"chat": ("main", "billing", "sales")}
    assert build(CFG_Q, CHAT_ROLLUP, [], [], ("phone",), QUEUE_RECORDS).queues == {}


def test_queue_attainment_by_hand(queued: Report) -> None:
    def a(queue: str, indicator: str, threshold: float, windows: int, met: int, skipped: int,
          volume: int | None) -> Attainment:
        return Attainment("chat", indicator, "warning", threshold,
                          "<" if indicator == "service_level" else ">", windows, met, skipped,
                          met / windows if windows else None, volume, queue)

    assert queued.queue_attainment == [
        # main: 1.0 twice; nobody waiting; nothing abandoned
        a("main", "service_level", 0.8, 2, 2, 0, 6), a("main", "oldest_wait_s", 120.0, 2, 2, 0, None),
        a("main", "abandonment_rate", 0.2, 2, 2, 0, 6),
        # billing: 90 s breaches its 60 s (it would meet the channel's 120 s); its own 0.5:
        # 0.6 meets, 0.2 breaches; 1/5 abandoned is not above 0.2
        a("billing", "oldest_wait_s", 60.0, 2, 1, 0, None),
        a("billing", "service_level", 0.5, 2, 1, 0, 15),
        a("billing", "abandonment_rate", 0.2, 2, 2, 0, 15),
        # sales: 1/4 breaches, its empty window is not counted; 2/4 abandoned breaches
        a("sales", "service_level", 0.8, 1, 0, 1, 4), a("sales", "oldest_wait_s", 120.0, 2, 2, 0, None),
        a("sales", "abandonment_rate", 0.2, 1, 0, 1, 4),
        # other: its one window, 0/1
        a("other", "service_level", 0.8, 1, 0, 0, 1), a("other", "oldest_wait_s", 120.0, 1, 1, 0, None),
        a("other", "abandonment_rate", 0.2, 1, 1, 0, 1),
    ]


def test_queue_targets_use_the_queues_targets(queued: Report) -> None:
    billing = [t for t in queued.queue_targets if t.queue == "billing"]
    assert billing == [
        # 7 of 15 offered within billing's own 30 s
        Target("chat", "time", "first_response", "service_level", None, 30.0, "<=", 7 / 15, None,
               15, "billing"),
        Target("chat", "time", "resolution", "on_time_resolution_rate", None, 7200.0, "<=", None,
               None, 0, "billing"),
        Target("chat", "slo", "queue_in_time", "service_level", 0.9, None, ">=", 7 / 15, False, 15,
               "billing"),
        Target("chat", "threshold", "service_level", "service_level", 0.5, None, "<", 7 / 15,
               False, 15, "billing"),
        Target("chat", "threshold", "abandonment_rate", "abandonment_rate", 0.2, None, ">",
               1 / 15, True, 15, "billing"),
    ]
    sales = {(t.kind, t.what): (t.limit_s, t.target, t.actual, t.volume)
             for t in queued.queue_targets if t.queue == "sales"}
    assert sales[("time", "first_response")] == (60.0, None, 1 / 4, 4)  # the channel's target
    assert sales[("threshold", "service_level")] == (None, 0.8, 1 / 4, 4)
    assert [t.queue for t in queued.queue_targets].count("main") == 5
    # the by-queue SLO is the queues' only; the channel keeps its own SLO
    assert [t.what for t in queued.targets if t.kind == "slo" and t.channel == "chat"] == [
        "answered_in_time"]


def test_error_budgets_of_an_slo_per_queue(queued: Report) -> None:
    # objective 0.9: a tenth of each queue's total may be bad
    got = [(b.slo, b.queue, b.good, b.total, b.bad) for b in queued.queue_budgets]
    assert got == [("queue_in_time", "main", 6, 6, 0), ("queue_in_time", "billing", 7, 15, 8),
                   ("queue_in_time", "sales", 1, 4, 3), ("queue_in_time", "other", 0, 1, 1)]
    assert [b.allowed_bad for b in queued.queue_budgets] == pytest.approx([0.6, 1.5, 0.4, 0.1])
    assert [b.spent for b in queued.queue_budgets] == pytest.approx([0.0, 8 / 1.5, 7.5, 10.0])
    # the channel's budgets are its own SLO's only
    assert [(b.slo, b.channel, b.queue) for b in queued.budgets] == [
        ("answered_in_time", "phone", None), ("answered_in_time", "chat", None)]


def test_queue_alerts_are_listed_with_their_queue_not_as_the_channels_time(queued: Report) -> None:
    assert queued.episodes == [
        Episode("chat", "service_level", "warning", FROM, FROM + 2 * M, 2 * M, 2 * M, 0, 0),
        Episode("chat", "service_level", "warning", FROM + M, FROM + 4 * M, 3 * M, 3 * M, 0, 0,
                "billing"),
    ]
    assert queued.alert_time_ms == {"chat": 2 * M}  # not 4 minutes: billing's are its own
    assert queued.queue_alert_time_ms == {("chat", "billing"): 3 * M}
    assert queued.findings[-1] == Finding("alerts", "chat", "", 2 * M)


def test_the_channel_figures_ignore_the_queue_records(queued: Report) -> None:
    chat = queued.sums["chat"]
    assert (chat.answered, chat.answered_within_target, chat.abandoned) == (23, 14, 3)
    rows = {a.channel: a for a in queued.attainment if a.indicator == "service_level"}
    assert (rows["chat"].windows, rows["chat"].met, rows["chat"].volume) == (2, 0, 26)
    assert queued.series["chat"] == [(FROM, 11 / 18), (FROM + M, 3 / 8)]


def test_no_queue_section_without_declared_queues() -> None:
    got = build(CFG, INDICATORS, ALERTS, QUALITY, (), QUEUE_RECORDS)
    assert (got.queues, got.queue_targets, got.queue_attainment, got.queue_budgets) == (
        {}, [], [], [])


def test_the_queues_topic_is_read_only_when_queues_are_declared(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without declared queues ``sqm.queues.v1`` is not read (it need not exist); with them its
    in-range records come with the others."""
    values = {"sqm.indicators.v1": [*CHAT_ROLLUP, PHONE_BEFORE], "sqm.alerts.v1": QUEUE_ALERTS,
              "sqm.quality.v1": [], "sqm.queues.v1": QUEUE_RECORDS}
    asked: list[str] = []

    def fake_read(bootstrap: str, topic: str, from_ms: int, to_ms: int,
                  **_: Any) -> list[Record]:
        asked.append(topic)
        return [Record(None, orjson.dumps(v), 0) for v in values[topic]]

    monkeypatch.setattr(read, "read_range_sync", fake_read)
    docs = read.read_documents(CFG, FROM, TO)
    assert asked == ["sqm.indicators.v1", "sqm.alerts.v1", "sqm.quality.v1"]
    assert docs.queues == [] and len(docs.indicators) == 2  # 09:59 is out of range
    asked.clear()
    docs = read.read_documents(CFG_Q, FROM, TO)
    assert asked == ["sqm.indicators.v1", "sqm.alerts.v1", "sqm.quality.v1", "sqm.queues.v1"]
    assert len(docs.queues) == len(QUEUE_RECORDS) - 1  # billing 09:59 is out of range
    inputs = decode_inputs(CFG_Q, *docs)
    # read twice, or not decodable: seven distinct queue windows of chat, and phone's main
    assert sorted((w.channel, w.queue, w.window_start_ms) for w in inputs.queues) == sorted([
        ("chat", "main", FROM), ("chat", "main", FROM + M), ("chat", "billing", FROM),
        ("chat", "billing", FROM + M), ("chat", "sales", FROM), ("chat", "sales", FROM + M),
        ("chat", "other", FROM + M), ("chat", "legacy", FROM), ("phone", "main", FROM)])


def test_a_channel_alert_and_a_queue_alert_of_one_window_stay_apart() -> None:
    both = [alert("chat", "firing", FROM, FROM, 0.5), alert("chat", "firing", FROM, FROM, 0.5,
                                                            "billing")]
    inputs = decode_inputs(CFG_Q, [], [*both, *both], [])
    assert [t.queue for t in inputs.transitions] == [None, "billing"]
    r = build_report(CFG_Q, inputs, FROM, TO, (), NOW)
    assert [(e.queue, e.duration_ms) for e in r.episodes] == [(None, TO - FROM),
                                                              ("billing", TO - FROM)]
