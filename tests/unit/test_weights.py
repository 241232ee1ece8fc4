"""The weighting methods of the quality index (SPEC 7.2): expert, AHP and entropy, against numbers
worked out here by hand or by an independent pure-Python computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymcdm.weights import entropy_weights  # type: ignore[import-untyped]

from monitor.domain.quality.index import SCORES
from monitor.domain.quality.weights import WeightError, ahp, entropy, expert

#: the random index pymcdm 1.4.0 uses for n = 3 (Tummala & Ling 1998; Saaty's table says 0.58)
RI_3 = 0.5799
SAATY = [[1.0, 3.0, 5.0], [1 / 3, 1.0, 3.0], [1 / 5, 1 / 3, 1.0]]


def power_iteration(m: list[list[float]], steps: int = 200) -> tuple[list[float], float]:
    """The principal eigenvector (summing to 1) and eigenvalue of a positive matrix, in plain Python."""
    n = len(m)
    v = [1.0 / n] * n
    for _ in range(steps):
        w = [sum(m[i][j] * v[j] for j in range(n)) for i in range(n)]
        total = sum(w)
        v = [x / total for x in w]
    mv = [sum(m[i][j] * v[j] for j in range(n)) for i in range(n)]
    return v, sum(mv[i] / v[i] for i in range(n)) / n


# --- expert -------------------------------------------------------------------------------------

def test_expert_normalises_and_gives_unlisted_scores_zero() -> None:
    w = expert({"service_level": 3, "csat_mean": 1})
    assert list(w) == list(SCORES)
    assert w["service_level"] == pytest.approx(0.75)
    assert w["csat_mean"] == pytest.approx(0.25)
    assert sum(v for k, v in w.items() if k not in ("service_level", "csat_mean")) == 0


@pytest.mark.parametrize(("given", "message"), [
    ({"speed": 1.0}, "unknown score 'speed'"),
    ({"nps": -1.0}, "weight of nps must be a number >= 0"),
    ({"nps": math.nan}, "weight of nps must be a number >= 0"),
    ({"nps": 0.0}, "at least one weight must be greater than 0"),
    ({}, "at least one weight must be greater than 0"),
])
def test_expert_refuses(given: dict[str, float], message: str) -> None:
    with pytest.raises(WeightError, match=message):
        expert(given)


# --- AHP ----------------------------------------------------------------------------------------

def test_ahp_saaty_example_weights_and_consistency_ratio() -> None:
    ref, lambda_max = power_iteration(SAATY)
    cr_ref = (lambda_max - 3) / 2 / RI_3  # CI = (lambda_max - n) / (n - 1), CR = CI / RI
    got = ahp(["service_level", "csat_mean", "nps"], SAATY)
    assert [got.weights[n] for n in ("service_level", "csat_mean", "nps")] == pytest.approx(ref, abs=1e-9)
    assert [got.weights[n] for n in ("service_level", "csat_mean", "nps")] == pytest.approx(
        [0.637, 0.258, 0.105], abs=1e-3)
    assert got.consistency_ratio == pytest.approx(cr_ref, abs=1e-9)
    assert got.consistency_ratio == pytest.approx(0.0332, abs=1e-4)
    assert list(got.weights) == list(SCORES)
    assert sum(got.weights.values()) == pytest.approx(1.0)
    assert got.weights["resolution_rate"] == 0.0


def test_ahp_weights_follow_the_names_order() -> None:
    # the same comparisons, listed nps first
    m = [[1.0, 1 / 5, 1 / 3], [5.0, 1.0, 3.0], [3.0, 1 / 3, 1.0]]
    got = ahp(["nps", "service_level", "csat_mean"], m)
    assert (got.weights["service_level"], got.weights["csat_mean"], got.weights["nps"]) == pytest.approx(
        (0.637, 0.258, 0.105), abs=1e-3)


def test_ahp_inconsistent_matrix_returns_its_ratio() -> None:
    # circulant: every row sums to 1 + 9 + 1/9, so (1, 1, 1) is the principal eigenvector with
    # lambda_max = 91/9, CI = (91/9 - 3) / 2 = 32/9
    m = [[1.0, 9.0, 1 / 9], [1 / 9, 1.0, 9.0], [9.0, 1 / 9, 1.0]]
    got = ahp(["service_level", "csat_mean", "nps"], m)
    assert got.consistency_ratio == pytest.approx(32 / 9 / RI_3)
    assert got.consistency_ratio >= 0.1
    assert got.weights["service_level"] == pytest.approx(1 / 3)


def test_ahp_two_scores_are_consistent_by_definition() -> None:
    got = ahp(["service_level", "nps"], [[1.0, 2.0], [0.5, 1.0]])
    assert got.weights["service_level"] == pytest.approx(2 / 3)
    assert got.weights["nps"] == pytest.approx(1 / 3)
    assert got.consistency_ratio == 0.0


def test_ahp_accepts_reciprocals_rounded_to_two_decimals() -> None:
    got = ahp(["service_level", "nps"], [[1.0, 3.0], [0.33, 1.0]])
    assert got.weights["service_level"] == pytest.approx(0.75)  # from the exact 1/3


THREE = ["service_level", "csat_mean", "nps"]


@pytest.mark.parametrize(("names", "matrix", "message"), [
    (THREE, [[1.0, 3.0, 5.0], [1 / 3, 1.0, 3.0]], "expected 3 rows"),
    (THREE, [[1.0, 3.0], [1 / 3, 1.0], [1 / 5, 1 / 3]], r"row \[0\] has 2 entries, expected 3"),
    (["nps"], [[1.0]], "at least 2 scores"),
    (["nps", "speed"], [[1.0, 2.0], [0.5, 1.0]], "unknown score 'speed'"),
    (["nps", "nps"], [[1.0, 2.0], [0.5, 1.0]], "'nps' is listed twice"),
    (["nps", "csat_mean"], [[1.0, -2.0], [-0.5, 1.0]], r"entry \[0\]\[1\] is -2.0; .* positive"),
    (["nps", "csat_mean"], [[1.0, 0.0], [0.5, 1.0]], "must be positive"),
    (["nps", "csat_mean"], [[2.0, 2.0], [0.5, 1.0]], r"entry \[0\]\[0\] is 2.0; .* itself is 1"),
    (["nps", "csat_mean"], [[1.0, 3.0], [3.0, 1.0]], r"entry \[0\]\[1\] is 3.0 but \[1\]\[0\] is 3.0"),
    (["nps", "csat_mean"], [[1.0, 2.5], [0.4, 1.0]], "Saaty's scale"),
])
def test_ahp_refuses(names: list[str], matrix: list[list[float]], message: str) -> None:
    with pytest.raises(WeightError, match=message):
        ahp(names, matrix)


# --- entropy ------------------------------------------------------------------------------------

def plogp(ps: list[float]) -> float:
    """-sum p ln p, with 0 ln 0 = 0."""
    return -sum(p * math.log(p) for p in ps if p > 0)


def test_entropy_hand_worked() -> None:
    rows = [{"service_level": 0.2, "csat_mean": 0.4},
            {"service_level": 0.3, "csat_mean": 0.4},
            {"service_level": 0.5, "csat_mean": 0.2}]
    # both columns sum to 1, so p = x
    e_sl = -(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5)) / math.log(3)
    e_cs = -(0.4 * math.log(0.4) + 0.4 * math.log(0.4) + 0.2 * math.log(0.2)) / math.log(3)
    d_sl, d_cs = 1 - e_sl, 1 - e_cs
    assert (d_sl, d_cs) == pytest.approx((0.062769, 0.039770), abs=1e-6)
    w = entropy(rows)
    assert w["service_level"] == pytest.approx(d_sl / (d_sl + d_cs))
    assert w["service_level"] == pytest.approx(0.61215, abs=1e-5)
    assert w["csat_mean"] == pytest.approx(d_cs / (d_sl + d_cs))
    assert list(w) == list(SCORES)
    assert w["nps"] == 0.0


def test_entropy_zero_contributes_nothing() -> None:
    rows = [{"service_level": 0.0, "csat_mean": 0.4},
            {"service_level": 0.5, "csat_mean": 0.4},
            {"service_level": 0.5, "csat_mean": 0.2}]
    d_sl = 1 - plogp([0.0, 0.5, 0.5]) / math.log(3)  # = 1 - ln 2 / ln 3
    assert d_sl == pytest.approx(1 - math.log(2) / math.log(3))
    d_cs = 1 - plogp([0.4, 0.4, 0.2]) / math.log(3)
    w = entropy(rows)
    assert w["service_level"] == pytest.approx(d_sl / (d_sl + d_cs))
    assert w["service_level"] == pytest.approx(0.90272, abs=1e-5)
    # what pymcdm 1.4.0 does with the same matrix: refuses it (hence our own implementation)
    with pytest.raises(ValueError):
        entropy_weights(np.array([[0.0, 0.4], [0.5, 0.4], [0.5, 0.2]]))


def test_entropy_missing_value_uses_the_rows_that_have_it() -> None:
    rows: list[dict[str, float | None]] = [
        {"service_level": 0.2, "csat_mean": 0.4},
        {"service_level": None, "csat_mean": 0.4},
        {"service_level": 0.6, "csat_mean": 0.2},
    ]
    # service_level over 2 rows: p = 0.25, 0.75; the normaliser is ln 2
    d_sl = 1 - (-(0.25 * math.log(0.25) + 0.75 * math.log(0.75))) / math.log(2)
    d_cs = 1 - plogp([0.4, 0.4, 0.2]) / math.log(3)
    w = entropy(rows)
    assert w["service_level"] == pytest.approx(d_sl / (d_sl + d_cs))
    assert w["service_level"] == pytest.approx(0.82594, abs=1e-5)


def test_entropy_absent_key_is_missing_too() -> None:
    with_none = entropy([{"nps": 0.2, "csat_mean": 0.1}, {"nps": None, "csat_mean": 0.3},
                         {"nps": 0.6, "csat_mean": 0.3}])
    without = entropy([{"nps": 0.2, "csat_mean": 0.1}, {"csat_mean": 0.3},
                       {"nps": 0.6, "csat_mean": 0.3}])
    assert with_none == without


def test_entropy_all_equal_gives_equal_weights_over_present_scores() -> None:
    rows = [{"service_level": 0.7, "csat_mean": 0.5}, {"service_level": 0.7, "csat_mean": 0.5},
            {"service_level": 0.7, "csat_mean": 0.5, "nps": 0.9}]  # nps: one row, cannot vary
    w = entropy(rows)
    assert w["service_level"] == w["csat_mean"] == w["nps"] == pytest.approx(1 / 3)
    assert w["resolution_rate"] == 0.0


def test_entropy_one_varying_score_takes_all_the_weight() -> None:
    w = entropy([{"service_level": 0.7, "nps": 0.2}, {"service_level": 0.7, "nps": 0.8}])
    assert (w["service_level"], w["nps"]) == (0.0, 1.0)


def test_entropy_all_zero_column_and_no_rows() -> None:
    w = entropy([{"service_level": 0.0, "nps": 0.2}, {"service_level": 0.0, "nps": 0.8}])
    assert (w["service_level"], w["nps"]) == (0.0, 1.0)
    assert entropy([]) == dict.fromkeys(SCORES, 0.0)


def test_entropy_refuses_negative_scores() -> None:
    with pytest.raises(WeightError, match="nps has a negative"):
        entropy([{"nps": -0.1}, {"nps": 0.5}])


def test_entropy_agrees_with_pymcdm_on_a_complete_zero_free_matrix() -> None:
    matrix = np.array([
        [0.81, 0.95, 0.88, 0.70, 0.97, 0.75, 0.60, 0.52],
        [0.64, 0.90, 0.92, 0.55, 0.99, 0.80, 0.45, 0.49],
        [0.92, 0.97, 0.85, 0.82, 0.93, 0.62, 0.71, 0.58],
        [0.35, 0.71, 0.95, 0.40, 0.96, 0.50, 0.30, 0.44],
        [0.77, 0.88, 0.90, 0.66, 0.98, 0.72, 0.55, 0.51],
    ])
    rows = [dict(zip(SCORES, map(float, r), strict=True)) for r in matrix]
    ours = entropy(rows)
    theirs = entropy_weights(matrix)
    assert [ours[n] for n in SCORES] == pytest.approx(list(theirs), abs=1e-12)
