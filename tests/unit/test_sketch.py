"""The quantile sketch: nearest-rank quantiles within 1%, exact count, mean and max, merging.

The reference is a sorted list: the nearest-rank quantile is the value at rank ceil(q * n).
"""

from __future__ import annotations

import math
import random

import pytest

from monitor.contract import indicators
from monitor.contract.partials import sketch_from_json, sketch_to_json
from monitor.domain.stream.sketch import Sketch


def summary_s(s: Sketch) -> dict[str, float | None]:
    """The summary as a record carries it (seconds)."""
    return indicators.summary_s(s.summary())

REL = 0.01
TOL = REL * (1 + 1e-9)  # 1% plus float noise at bucket edges
QS = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def nearest_rank(sorted_values: list[int], q: float) -> int:
    n = len(sorted_values)
    rank = max(1, math.ceil(q * n))
    return sorted_values[rank - 1]


def sketch_of(values: list[int]) -> Sketch:
    s = Sketch()
    for v in values:
        s.add(v)
    return s


def assert_within(estimate: float | None, exact: int, what: str = "") -> None:
    assert estimate is not None
    if exact == 0:
        assert estimate == 0, what
    else:
        assert abs(estimate - exact) <= TOL * exact, f"{what}: {estimate} vs {exact}"


def test_empty_sketch() -> None:
    s = Sketch()
    assert s.count == 0
    for q in (0.5, 0.9, 0.99):
        assert s.quantile_ms(q) is None
    assert summary_s(s) == {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}


def test_one_to_hundred_ms() -> None:
    s = sketch_of(list(range(1, 101)))
    assert s.count == 100
    assert_within(s.quantile_ms(0.5), 50, "p50")
    assert_within(s.quantile_ms(0.9), 90, "p90")
    assert_within(s.quantile_ms(0.99), 99, "p99")
    assert s.quantile_ms(1.0) == 100
    summary = summary_s(s)
    assert set(summary) == {"p50", "p90", "p99", "mean", "max"}
    assert summary["max"] == 0.1  # exact
    assert summary["mean"] == pytest.approx(0.0505, abs=1e-12)  # 5050 / 100 ms, exact
    assert summary["p50"] == pytest.approx(0.050, rel=REL)
    assert summary["p90"] == pytest.approx(0.090, rel=REL)
    assert summary["p99"] == pytest.approx(0.099, rel=REL)


def test_one_to_hundred_seconds_every_rank() -> None:
    values = [i * 1000 for i in range(1, 101)]
    s = sketch_of(values)
    for k in range(1, 101):
        q = k / 100
        assert_within(s.quantile_ms(q), nearest_rank(values, q), f"q={q}")
    summary = summary_s(s)
    assert summary["max"] == 100.0
    assert summary["mean"] == 50.5


def test_single_value() -> None:
    s = sketch_of([20_000])
    for q in (0.5, 0.9, 0.99):
        assert_within(s.quantile_ms(q), 20_000)
    summary = summary_s(s)
    assert summary["mean"] == 20.0
    assert summary["max"] == 20.0
    for name in ("p50", "p90", "p99"):
        assert summary[name] == pytest.approx(20.0, rel=REL)


def test_zero_values() -> None:
    s = sketch_of([0, 0, 0, 5])
    assert s.quantile_ms(0.5) == 0
    assert s.quantile_ms(0.75) == 0
    assert s.quantile_ms(1.0) == 5
    assert summary_s(s)["mean"] == pytest.approx(0.00125, abs=1e-12)


def test_small_counts_nearest_rank() -> None:
    # n = 2: p50 is the smaller value (rank 1), p90 and p99 the larger (rank 2)
    s = sketch_of([10_000, 40_000])
    assert_within(s.quantile_ms(0.5), 10_000)
    assert_within(s.quantile_ms(0.9), 40_000)
    assert_within(s.quantile_ms(0.99), 40_000)
    # n = 3: p50 is rank 2
    s = sketch_of([3_000, 1_000, 2_000])
    assert_within(s.quantile_ms(0.5), 2_000)
    assert_within(s.quantile_ms(0.9), 3_000)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lognormal_against_sorted_reference(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(math.log(30_000), 1.2)) for _ in range(20_000)]
    ref = sorted(values)
    s = sketch_of(values)
    assert s.count == len(values)
    for q in QS:
        assert_within(s.quantile_ms(q), nearest_rank(ref, q), f"seed {seed} q={q}")
    summary = summary_s(s)
    assert summary["max"] == ref[-1] / 1000
    assert summary["mean"] == pytest.approx(sum(values) / len(values) / 1000, abs=1e-6)


def test_wide_range_of_values() -> None:
    rng = random.Random(42)
    values = [int(10 ** rng.uniform(0, 9)) for _ in range(5_000)] + [1, 2, 3, 10**9]
    ref = sorted(values)
    s = sketch_of(values)
    for k in range(1, 1001):
        q = k / 1000
        assert_within(s.quantile_ms(q), nearest_rank(ref, q), f"q={q}")


def test_merge_equals_one_sketch_of_all_values() -> None:
    rng = random.Random(7)
    a_vals = [int(rng.lognormvariate(math.log(5_000), 1.0)) for _ in range(3_000)]
    b_vals = [int(rng.lognormvariate(math.log(90_000), 0.5)) for _ in range(1_000)]
    merged = sketch_of(a_vals)
    merged.merge(sketch_of(b_vals))
    merged_other_way = sketch_of(b_vals)
    merged_other_way.merge(sketch_of(a_vals))
    whole = sketch_of(a_vals + b_vals)
    for m in (merged, merged_other_way):
        assert m.count == whole.count == 4_000
        assert m.sum_ms == whole.sum_ms == sum(a_vals) + sum(b_vals)
        assert m.max_ms == whole.max_ms == max(a_vals + b_vals)
        for k in range(0, 101):
            q = k / 100
            assert m.quantile_ms(q) == whole.quantile_ms(q)
        assert summary_s(m) == summary_s(whole)
    ref = sorted(a_vals + b_vals)
    for q in QS:
        assert_within(merged.quantile_ms(q), nearest_rank(ref, q), f"q={q}")


def test_merge_with_empty() -> None:
    s = sketch_of([1_000, 2_000])
    before = summary_s(s)
    s.merge(Sketch())
    assert summary_s(s) == before
    e = Sketch()
    e.merge(sketch_of([1_000, 2_000]))
    assert summary_s(e) == before


def test_json_round_trip() -> None:
    rng = random.Random(11)
    values = [rng.randrange(0, 10**7) for _ in range(2_000)]
    s = sketch_of(values)
    back = sketch_from_json(sketch_to_json(s))
    assert back.count == s.count
    assert back.sum_ms == s.sum_ms
    assert back.max_ms == s.max_ms
    for q in QS:
        assert back.quantile_ms(q) == s.quantile_ms(q)
