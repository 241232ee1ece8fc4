"""The quality-index domain (SPEC 7.2, 7.3): sums, scores, SERVQUAL gaps, the index with missing
scores, and the spread across channels, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from monitor.domain.quality.index import (
    DIMENSIONS,
    SCORES,
    Spread,
    Sums,
    consistency,
    quality_index,
    scores,
    servqual_gaps,
)


def test_names() -> None:
    assert DIMENSIONS == ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
    assert len(SCORES) == 8


def test_add_sums_every_field_in_place() -> None:
    a = Sums(opened=3, answered=2, csat_sum=9, servqual_responses=[1, 0, 0, 0, 2])
    b = Sums(opened=1, abandoned=4, csat_sum=5, nps_net=-2, servqual_responses=[0, 3, 0, 0, 1],
             servqual_expected_sum=[0, 15, 0, 0, 0])
    a.add(b)
    assert a == Sums(opened=4, answered=2, abandoned=4, csat_sum=14, nps_net=-2,
                     servqual_responses=[1, 3, 0, 0, 3], servqual_expected_sum=[0, 15, 0, 0, 0])
    assert b.opened == 1  # the other one is left alone


def test_default_lists_are_not_shared() -> None:
    a, b = Sums(), Sums()
    a.add(Sums(servqual_responses=[1, 1, 1, 1, 1]))
    assert b.servqual_responses == [0, 0, 0, 0, 0]


def test_has_volume() -> None:
    assert not Sums().has_volume
    assert not Sums(complaints=0, csat_sum=0).has_volume
    for one in (Sums(opened=1), Sums(answered=1), Sums(abandoned=1), Sums(resolved=1), Sums(failed=1),
                Sums(feedback_responses=1)):
        assert one.has_volume, one


def test_scores_from_period_sums() -> None:
    s = Sums(answered=8, answered_within_target=6, abandoned=2,
             resolved=10, resolved_within_target=7, failed=0, reopened=1,
             csat_responses=4, csat_sum=4 + 5 + 3 + 4)
    got = scores(s)
    assert list(got) == list(SCORES)
    assert got["service_level"] == pytest.approx(6 / 10)
    assert got["abandonment_rate"] == pytest.approx(1 - 2 / 10)
    assert got["resolution_rate"] == 1.0
    assert got["on_time_resolution_rate"] == pytest.approx(0.7)
    assert got["reopen_rate"] == pytest.approx(0.9)
    assert got["csat_mean"] == pytest.approx((4.0 - 1) / 4)  # mean 16 / 4 = 4
    assert got["nps"] is None
    assert got["servqual_gap"] is None


def test_no_volume_no_scores() -> None:
    assert scores(Sums()) == dict.fromkeys(SCORES)


def test_more_reopens_than_resolutions_clamps_to_zero() -> None:
    assert scores(Sums(resolved=2, reopened=3))["reopen_rate"] == 0.0


@pytest.mark.parametrize(("csat", "expected"), [([1, 1], 0.0), ([5], 1.0), ([3], 0.5), ([2, 5], 0.625)])
def test_csat_score_range(csat: list[int], expected: float) -> None:
    s = Sums(csat_responses=len(csat), csat_sum=sum(csat))
    assert scores(s)["csat_mean"] == pytest.approx(expected)


def nps_sums(raw: list[int]) -> Sums:
    """Sums of NPS answers, classified as the survey does: 9-10 promoters, 0-6 detractors."""
    promoters = sum(1 for r in raw if r in (9, 10))
    detractors = sum(1 for r in raw if 0 <= r <= 6)
    return Sums(nps_responses=len(raw), nps_net=promoters - detractors)


@pytest.mark.parametrize(("raw", "expected"), [
    ([6], 0.0),          # detractor: NPS -100
    ([7], 0.5),          # passive: NPS 0
    ([8], 0.5),          # passive
    ([9], 1.0),          # promoter: NPS 100
    ([6, 7], 0.25),      # -50
    ([8, 9], 0.75),      # +50
    ([6, 9], 0.5),       # one of each cancels out
    ([0, 6, 7, 8, 9, 10], 0.5),
    ([10, 10, 9, 6], 0.75),  # 75 % - 25 % = 50
])
def test_nps_boundaries(raw: list[int], expected: float) -> None:
    assert scores(nps_sums(raw))["nps"] == pytest.approx(expected)


def servqual_table() -> Sums:
    # (expected, perceived) answers per dimension; assurance got no answers
    answers = {
        "reliability": [(6, 5), (7, 5)],     # 13 vs 10 over 2: gap -1.5
        "responsiveness": [(5, 6)],          # gap +1
        "assurance": [],
        "empathy": [(5, 4)] * 4,             # 20 vs 16 over 4: gap -1
        "tangibles": [(4, 7)],               # gap +3
    }
    return Sums(
        servqual_responses=[len(answers[d]) for d in DIMENSIONS],
        servqual_expected_sum=[sum(e for e, _ in answers[d]) for d in DIMENSIONS],
        servqual_perceived_sum=[sum(p for _, p in answers[d]) for d in DIMENSIONS],
    )


def test_servqual_gaps_and_score() -> None:
    s = servqual_table()
    assert servqual_gaps(s) == {"reliability": -1.5, "responsiveness": 1.0, "assurance": None,
                                "empathy": -1.0, "tangibles": 3.0}
    # (gap + 6) / 12 over the four dimensions with answers: (4.5 + 7 + 5 + 9) / 12 / 4
    assert scores(s)["servqual_gap"] == pytest.approx(25.5 / 48)


def test_servqual_extremes() -> None:
    worst = Sums(servqual_responses=[1, 0, 0, 0, 0], servqual_expected_sum=[7, 0, 0, 0, 0],
                 servqual_perceived_sum=[1, 0, 0, 0, 0])
    assert scores(worst)["servqual_gap"] == 0.0
    assert servqual_gaps(Sums()) == dict.fromkeys(DIMENSIONS)


def test_quality_index_all_present() -> None:
    sc = {"service_level": 0.6, "csat_mean": 0.8}
    assert quality_index(sc, {"service_level": 0.25, "csat_mean": 0.75}) == pytest.approx(
        100 * (0.25 * 0.6 + 0.75 * 0.8))


def test_quality_index_spreads_missing_weights_in_proportion() -> None:
    sc: dict[str, float | None] = {"service_level": 0.6, "csat_mean": 0.75, "nps": None,
                                   "reopen_rate": 1.0}
    w = {"service_level": 0.5, "csat_mean": 0.25, "nps": 0.25, "reopen_rate": 0.0}
    # nps's 0.25 goes to the others 2:1, i.e. weights 2/3 and 1/3: 100 * (0.4 + 0.25) = 65
    assert quality_index(sc, w) == pytest.approx(65.0)


def test_quality_index_none_without_weighted_scores() -> None:
    assert quality_index({"nps": None, "csat_mean": 0.5}, {"nps": 1.0}) is None
    assert quality_index({"csat_mean": 0.5}, {"csat_mean": 0.0}) is None
    assert quality_index({}, {"nps": 1.0}) is None
    assert quality_index({"csat_mean": 0.0}, {"csat_mean": 1.0}) == 0.0


def test_consistency_statistics() -> None:
    per_channel: dict[str, dict[str, float | None]] = {
        "phone": {"service_level": 0.6, "nps": 0.5},
        "chat": {"service_level": 0.8, "nps": None},
        "email": {"service_level": 1.0},
    }
    got = consistency(per_channel, ["service_level", "nps", "csat_mean"])
    sl = got["service_level"]
    assert sl is not None
    # mean 0.8; population variance (0.04 + 0 + 0.04) / 3
    sd = math.sqrt(0.08 / 3)
    assert sl.mean == pytest.approx(0.8)
    assert sl.stddev == pytest.approx(sd)
    assert sl.stddev == pytest.approx(0.163299, abs=1e-6)
    assert sl.cv == pytest.approx(sd / 0.8)
    assert (sl.best_channel, sl.worst_channel) == ("email", "phone")
    assert got["nps"] == Spread(0.5, 0.0, 0.0, "phone", "phone")  # chat's None leaves it out
    assert got["csat_mean"] is None


def test_consistency_ties_go_to_the_first_channel() -> None:
    per_channel = {"phone": {"quality_index": 50.0}, "chat": {"quality_index": 90.0},
                   "email": {"quality_index": 90.0}, "web": {"quality_index": 50.0}}
    spread = consistency(per_channel, ["quality_index"])["quality_index"]
    assert spread is not None
    assert (spread.best_channel, spread.worst_channel) == ("chat", "phone")
    reordered = dict(reversed(per_channel.items()))
    spread = consistency(reordered, ["quality_index"])["quality_index"]
    assert spread is not None
    assert (spread.best_channel, spread.worst_channel) == ("email", "web")


def test_consistency_cv_none_at_mean_zero() -> None:
    spread = consistency({"phone": {"service_level": 0.0}, "chat": {"service_level": 0.0}},
                         ["service_level"])["service_level"]
    assert spread == Spread(0.0, 0.0, None, "phone", "phone")
