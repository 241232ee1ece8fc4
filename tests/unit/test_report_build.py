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
from monitor.contract.indicators import record
from monitor.domain.report.attainment import Hour
from monitor.domain.report.review import Finding
from monitor.domain.stream.indicators import NO_SURVEY, Dimension
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


def alert(channel: str, state: str, start_ms: int, since_ms: int, value: float) -> dict[str, Any]:
    """An ``sqm.alerts.v1`` value as SPEC section 3 writes it."""
    return {"schema": "sqm.alerts.v1", "alert_id": f"{channel}/service_level/{iso_s(since_ms)}",
            "channel": channel, "indicator": "service_level", "severity": "warning",
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
          quality: list[dict[str, Any]], channels: tuple[str, ...]) -> Report:
    """The records as ``sqm report`` has them: decoded, then built into the range's report."""
    return build_report(cfg, decode_inputs(cfg, indicators, alerts, quality), FROM, TO, channels,
                        NOW)


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
