"""The period figures of the report from alerts and the quality stage (SPEC section 8): alert
episodes, the quality index trend, SERVQUAL gaps, consistency over the period and "what to look
at", against numbers worked out by hand."""

from __future__ import annotations

import random

import pytest

from monitor.domain.alerts import Transition
from monitor.domain.quality.index import Spread, Sums
from monitor.domain.report.review import (
    ANCHOR_ALERTS,
    ANCHOR_ATTAINMENT,
    ANCHOR_GAPS,
    DAY_MS,
    Episode,
    Finding,
    Gap,
    QualityPoint,
    alert_time_by_channel,
    alert_time_by_queue,
    episodes,
    gaps,
    period_scores,
    quality_trend,
    spread,
    what_to_look_at,
)

M = 60_000  # one minute
FROM, TO = 100 * M, 200 * M
H = 3_600_000


def _t(channel: str, indicator: str, severity: str, state: str, end_min: int,
       since_min: int) -> Transition:
    """A record of a five-minute window ending at ``end_min``."""
    return Transition(channel, indicator, severity, state, 0.5, 0.8, "<", (end_min - 5) * M,
                      end_min * M, since_min * M)


# A: within the range; escalates at 130, de-escalates at 145, resolves at 155.
A = [_t("voice", "service_level", "warning", "firing", 120, 110),
     _t("voice", "service_level", "critical", "firing", 130, 110),
     _t("voice", "service_level", "warning", "firing", 145, 110),
     _t("voice", "service_level", "warning", "resolved", 155, 110)]
# B: fires at 190 and is still open at the range end.
B = [_t("chat", "abandonment_rate", "warning", "firing", 190, 180)]
# C: started before the range (since 90, fired at 100), resolved at 120.
C = [_t("voice", "resolution_rate", "critical", "firing", 100, 90),
     _t("voice", "resolution_rate", "critical", "resolved", 120, 90)]
# D: over before the range starts.
D = [_t("voice", "oldest_wait_s", "warning", "firing", 60, 50),
     _t("voice", "oldest_wait_s", "warning", "resolved", 80, 50)]
# E: fired at 195, resolved at 210, after the range end: open at the range end.
E = [_t("email", "oldest_wait_s", "warning", "firing", 195, 190),
     _t("email", "oldest_wait_s", "critical", "firing", 205, 190),
     _t("email", "oldest_wait_s", "critical", "resolved", 210, 190)]
# F: starts after the range.
F = [_t("email", "service_level", "warning", "firing", 205, 200)]

EXPECTED = [
    Episode("voice", "resolution_rate", "critical", 90 * M, 120 * M, 20 * M, 30 * M, 0, 0),
    Episode("voice", "service_level", "critical", 110 * M, 155 * M, 45 * M, 45 * M, 1, 1),
    Episode("chat", "abandonment_rate", "warning", 180 * M, None, 20 * M, None, 0, 0),
    Episode("email", "oldest_wait_s", "warning", 190 * M, None, 10 * M, None, 0, 0),
]


def test_episodes_escalation_open_before_range_and_after() -> None:
    assert episodes([*A, *B, *C, *D, *E, *F], FROM, TO) == EXPECTED


def test_duplicates_and_order_change_nothing() -> None:
    records = [*A, *B, *C, *D, *E, *F]
    twice = [*records, A[1], A[3], B[0], C[0], *records]  # a worker re-emitting after a crash
    random.Random(7).shuffle(twice)
    assert episodes(twice, FROM, TO) == EXPECTED
    # voice: C is active over [100, 120) in range and A over [110, 155): 55 minutes, not 20 + 45
    assert alert_time_by_channel(episodes(twice, FROM, TO), FROM, TO) == {
        "chat": 20 * M, "email": 10 * M, "voice": 55 * M}


def _e(channel: str, since_min: int, resolved_min: int | None) -> Episode:
    """An episode whose only figures alert time reads are its channel, since and resolved."""
    return Episode(channel, "x", "warning", since_min * M,
                   None if resolved_min is None else resolved_min * M, 0, None, 0, 0)


def test_alert_time_is_the_union_of_a_channels_episodes() -> None:
    found = [_e("voice", 90, 130), _e("voice", 120, 140),  # overlap: [100, 140)
             _e("voice", 150, 160), _e("voice", 152, 155),  # nested: [150, 160)
             _e("voice", 160, 170),  # touching the last one: [160, 170)
             _e("voice", 195, None),  # open at the end: [195, 200)
             _e("chat", 50, 80),  # over before the range: nothing
             _e("chat", 120, 130), _e("chat", 125, None)]  # [120, 200)
    assert alert_time_by_channel(found, FROM, TO) == {
        "chat": 80 * M, "voice": (40 + 10 + 10 + 5) * M}


def test_resolved_record_without_its_firing_one() -> None:
    # the firing record lies before what the reader read: the resolved one alone makes the episode
    only = [_t("chat", "nps", "critical", "resolved", 130, 70)]
    assert episodes(only, FROM, TO) == [
        Episode("chat", "nps", "critical", 70 * M, 130 * M, 30 * M, 60 * M, 0, 0)]


def test_no_records_no_episodes() -> None:
    assert episodes([], FROM, TO) == []
    assert alert_time_by_channel([], FROM, TO) == {}
    assert alert_time_by_queue([], FROM, TO) == {}


def _q(queue: str | None, severity: str, state: str, end_min: int, since_min: int) -> Transition:
    """A chat service_level record of a five-minute window ending at ``end_min``, of a queue
    alert (``queue`` set) or of the channel's own (None)."""
    return Transition("chat", "service_level", severity, state, 0.5, 0.8, "<", (end_min - 5) * M,
                      end_min * M, since_min * M, queue)


# SPEC 9: the same indicator and since on the channel and on two of its queues are three episodes.
# billing: [110, 150), escalating at 130; sales: [110, 200) open; the channel: [160, 170).
QUEUED = [_q("billing", "warning", "firing", 120, 110), _q("billing", "critical", "firing", 130, 110),
          _q("billing", "critical", "resolved", 150, 110),
          _q("sales", "warning", "firing", 120, 110),
          _q(None, "warning", "firing", 165, 160), _q(None, "warning", "resolved", 170, 160),
          # sales again, a second episode inside the first one's span: [140, 150)
          _q("sales", "warning", "firing", 145, 140), _q("sales", "warning", "resolved", 150, 140)]


def test_queue_alert_episodes_carry_their_queue() -> None:
    twice = [*QUEUED, *QUEUED]
    random.Random(3).shuffle(twice)
    assert episodes(twice, FROM, TO) == [
        Episode("chat", "service_level", "critical", 110 * M, 150 * M, 40 * M, 40 * M, 1, 0,
                "billing"),
        Episode("chat", "service_level", "warning", 110 * M, None, 90 * M, None, 0, 0, "sales"),
        Episode("chat", "service_level", "warning", 140 * M, 150 * M, 10 * M, 10 * M, 0, 0,
                "sales"),
        Episode("chat", "service_level", "warning", 160 * M, 170 * M, 10 * M, 10 * M, 0, 0),
    ]


def test_a_queue_alert_is_not_its_channels_alert_time() -> None:
    found = episodes(QUEUED, FROM, TO)
    # only the channel's own episode: 10 minutes, not the 90 of sales
    assert alert_time_by_channel(found, FROM, TO) == {"chat": 10 * M}
    # per queue, the union of its own episodes: sales [110, 200) holds [140, 150)
    assert alert_time_by_queue(found, FROM, TO) == {("chat", "billing"): 40 * M,
                                                    ("chat", "sales"): 90 * M}
    assert alert_time_by_channel(episodes(QUEUED[:4], FROM, TO), FROM, TO) == {}


def _p(channel: str, start_h: int, index: float | None) -> QualityPoint:
    return QualityPoint(channel, start_h * H, (start_h + 12) * H, index)


def test_quality_trend_slope_by_hand() -> None:
    # voice, 12-hour periods: x = 0, (1 without index), 1, 1.5 days; y = 80, 86, 83.
    # mean x = 5/6, mean y = 83; Sxx = 25/36 + 1/36 + 16/36 = 7/6; Sxy = 15/6 + 3/6 + 0 = 3
    # slope = 3 / (7/6) = 18/7 points per day.
    points = [_p("voice", 36, 83.0), _p("voice", 0, 80.0), _p("voice", 12, None),
              _p("voice", 24, 86.0), _p("voice", 24, 86.0),  # re-emitted
              _p("chat", 0, 70.0), _p("email", 0, None)]
    trend = quality_trend(points, 2 * DAY_MS)
    assert list(trend) == ["chat", "email", "voice"]
    voice = trend["voice"]
    assert [p.period_start_ms for p in voice.periods] == [0, 12 * H, 24 * H, 36 * H]
    assert voice.mean == pytest.approx(83.0)
    assert (voice.first, voice.last, voice.change) == (80.0, 83.0, 3.0)
    assert voice.slope_per_day == pytest.approx(18 / 7)
    chat = trend["chat"]
    assert (chat.mean, chat.first, chat.last, chat.slope_per_day) == (70.0, 70.0, 70.0, None)
    email = trend["email"]
    assert (email.mean, email.first, email.last, email.slope_per_day) == (None, None, None, None)


def test_two_points_a_day_apart() -> None:
    points = [QualityPoint("a", 0, H, 80.0), QualityPoint("a", DAY_MS, DAY_MS + H, 78.5)]
    assert quality_trend(points, DAY_MS + H)["a"].slope_per_day == pytest.approx(-1.5)


def test_under_a_day_the_change_and_no_slope() -> None:
    # 80 -> 77 over three hours: a slope per day would say -24 points a day
    points = [QualityPoint("a", 0, H, 80.0), QualityPoint("a", 2 * H, 3 * H, 77.0)]
    a = quality_trend(points, 3 * H)["a"]
    assert (a.change, a.slope_per_day) == (-3.0, None)
    assert quality_trend(points, DAY_MS)["a"].slope_per_day == pytest.approx(-36.0)


VOICE_SQ = Sums(servqual_responses=[2, 2, 0, 0, 0], servqual_expected_sum=[12, 10, 0, 0, 0],
                servqual_perceived_sum=[9, 11, 0, 0, 0])
CHAT_SQ = Sums(servqual_responses=[1, 0, 0, 4, 0], servqual_expected_sum=[6, 0, 0, 20, 0],
               servqual_perceived_sum=[6, 0, 0, 12, 0])


def test_gaps_table() -> None:
    table = gaps({"voice": VOICE_SQ, "chat": CHAT_SQ, "email": Sums()})
    n = None
    assert table.per_channel == {
        "chat": {"reliability": 0.0, "responsiveness": n, "assurance": n, "empathy": -2.0,
                 "tangibles": n},
        "email": dict.fromkeys(("reliability", "responsiveness", "assurance", "empathy",
                                "tangibles")),
        "voice": {"reliability": -1.5, "responsiveness": 0.5, "assurance": n, "empathy": n,
                  "tangibles": n},
    }
    # pooled: reliability (9 + 6 - 12 - 6) / 3 = -1
    assert table.overall == {"reliability": -1.0, "responsiveness": 0.5, "assurance": n,
                             "empathy": -2.0, "tangibles": n}
    assert table.largest_by_channel == {"chat": Gap("chat", "empathy", -2.0), "email": None,
                                        "voice": Gap("voice", "reliability", -1.5)}
    assert table.largest == Gap("chat", "empathy", -2.0)
    assert VOICE_SQ.servqual_responses == [2, 2, 0, 0, 0]  # inputs left alone


def test_gaps_without_responses() -> None:
    assert gaps({}).largest is None
    assert gaps({"a": Sums()}).largest_by_channel == {"a": None}


def _is(got: Spread | None, mean: float, stddev: float, cv: float, best: str, worst: str) -> None:
    assert got is not None
    assert (got.mean, got.stddev, got.cv) == pytest.approx((mean, stddev, cv))
    assert (got.best_channel, got.worst_channel) == (best, worst)


def test_spread_over_the_period() -> None:
    voice = Sums(answered=8, answered_within_target=6, abandoned=2)  # sl 0.6, 1-abandon 0.8
    chat = Sums(answered=10, answered_within_target=9)  # sl 0.9, 1-abandon 1.0
    by_channel = {"voice": voice, "chat": chat, "email": Sums()}  # email: no volume, left out
    weights = {"service_level": 1.0}
    per = period_scores(by_channel, weights)
    assert list(per) == ["chat", "voice"]
    assert per["voice"]["quality_index"] == pytest.approx(60.0)
    assert per["chat"]["quality_index"] == pytest.approx(90.0)
    out = spread(by_channel, weights)
    _is(out["service_level"], 0.75, 0.15, 0.2, "chat", "voice")
    _is(out["quality_index"], 75.0, 15.0, 0.2, "chat", "voice")
    _is(out["abandonment_rate"], 0.9, 0.1, 0.1 / 0.9, "chat", "voice")
    assert out["resolution_rate"] is None


ROWS = [("voice", "service_level", 0.9), ("chat", "abandonment_rate", 0.7),
        ("email", "resolution_rate", None), ("chat", "service_level", 0.7)]


def test_what_to_look_at_order() -> None:
    found = what_to_look_at(Gap("chat", "empathy", -2.0), ROWS, {"chat": 20 * M, "voice": 65 * M})
    assert found == [Finding(ANCHOR_GAPS, "chat", "empathy", -2.0),
                     Finding(ANCHOR_ATTAINMENT, "chat", "abandonment_rate", 0.7),
                     Finding(ANCHOR_ALERTS, "voice", "", 65 * M)]
    assert [f.anchor for f in found] == ["gaps", "attainment", "alerts"]


def test_what_to_look_at_leaves_out_empty_items() -> None:
    met = [("voice", "service_level", 1.0), ("chat", "service_level", None)]
    assert what_to_look_at(Gap("a", "empathy", 0.5), met, {"a": 0}) == []
    assert what_to_look_at(None, [], {}) == []
    assert what_to_look_at(None, ROWS, {}) == [
        Finding(ANCHOR_ATTAINMENT, "chat", "abandonment_rate", 0.7)]
    # a tie in alert time goes to the channel first in name order
    assert what_to_look_at(None, met, {"b": 5, "a": 5}) == [Finding(ANCHOR_ALERTS, "a", "", 5)]


def test_figures_chain_from_episodes_and_gaps() -> None:
    table = gaps({"voice": VOICE_SQ, "chat": CHAT_SQ})
    totals = alert_time_by_channel(episodes([*A, *B, *C], FROM, TO), FROM, TO)
    assert what_to_look_at(table.largest, [], totals) == [
        Finding(ANCHOR_GAPS, "chat", "empathy", -2.0), Finding(ANCHOR_ALERTS, "voice", "", 55 * M)]
