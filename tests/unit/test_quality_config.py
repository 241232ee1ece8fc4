"""``[quality]``: the defaults, AHP matrices with "a/b" fractions, and one clear message naming the
key for each kind of mistake (SPEC 7.2 and 6)."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from monitor.config import ConfigError
from monitor.config.quality import (
    DEFAULT_ENTROPY_PERIODS,
    DEFAULT_PERIOD_S,
    DEFAULT_QUALITY_METRICS_PORT,
    METHODS,
    QualityConfig,
    parse_quality,
)
from monitor.domain.quality.index import SCORES

#: pymcdm 1.4.0's random index for n = 3
RI_3 = 0.5799
AHP_TOML = """
[quality]
period_s = 1800
method = "ahp"
entropy_periods = 12
metrics_port = 9400
[quality.ahp]
scores = ["service_level", "csat_mean", "nps"]
matrix = [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]
"""
INCONSISTENT = [[1, 9, "1/9"], ["1/9", 1, 9], [9, "1/9", 1]]
THREE = ["service_level", "csat_mean", "nps"]


def test_defaults() -> None:
    raws: tuple[dict[str, Any] | None, ...] = (None, {})
    for raw in raws:
        cfg = parse_quality(raw, 60)
        assert cfg == QualityConfig()
        assert (cfg.period_s, cfg.method, cfg.entropy_periods, cfg.metrics_port) == (
            3600, "expert", 24, 9311)
        assert cfg.expert_weights == {name: 0.125 for name in SCORES}
        assert cfg.static_weights() == {name: 0.125 for name in SCORES}
        assert (cfg.ahp_scores, cfg.ahp_matrix, cfg.ahp_weights, cfg.ahp_consistency_ratio) == (
            (), (), None, None)
    assert (DEFAULT_PERIOD_S, DEFAULT_ENTROPY_PERIODS, DEFAULT_QUALITY_METRICS_PORT) == (3600, 24, 9311)
    assert METHODS == ("expert", "ahp", "entropy")


def test_ahp_from_toml_with_fractions() -> None:
    cfg = parse_quality(tomllib.loads(AHP_TOML)["quality"], 60)
    assert (cfg.period_s, cfg.method, cfg.entropy_periods, cfg.metrics_port) == (1800, "ahp", 12, 9400)
    assert cfg.ahp_scores == ("service_level", "csat_mean", "nps")
    assert cfg.ahp_matrix[1] == pytest.approx((1 / 3, 1.0, 3.0))
    assert cfg.ahp_matrix[2] == pytest.approx((0.2, 1 / 3, 1.0))
    assert cfg.ahp_weights is not None
    assert [cfg.ahp_weights[n] for n in THREE] == pytest.approx([0.637, 0.258, 0.105], abs=1e-3)
    assert cfg.ahp_consistency_ratio == pytest.approx(0.0332, abs=1e-4)
    assert cfg.static_weights() == cfg.ahp_weights
    assert cfg.ahp_weights["reopen_rate"] == 0.0


def test_expert_weights_are_normalised() -> None:
    cfg = parse_quality({"weights": {"service_level": 3, "csat_mean": 1.0}}, 60)
    w = cfg.static_weights()
    assert w is not None
    assert (w["service_level"], w["csat_mean"], w["nps"]) == (0.75, 0.25, 0.0)


def test_entropy_has_no_static_weights() -> None:
    cfg = parse_quality({"method": "entropy", "entropy_periods": 2}, 60)
    assert cfg.static_weights() is None
    assert cfg.entropy_periods == 2


def test_tables_of_other_methods_are_validated_but_unused() -> None:
    ahp = {"scores": THREE, "matrix": [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]}
    cfg = parse_quality({"method": "expert", "ahp": ahp, "weights": {"nps": 1}}, 60)
    assert cfg.ahp_weights is None and cfg.ahp_consistency_ratio is None
    assert cfg.ahp_scores == tuple(THREE)
    assert cfg.static_weights() == {name: float(name == "nps") for name in SCORES}
    with pytest.raises(ConfigError, match=r"^quality\.ahp\.matrix: consistency ratio"):
        parse_quality({"method": "entropy", "ahp": {"scores": THREE, "matrix": INCONSISTENT}}, 60)


def test_period_must_tile_windows_and_days() -> None:
    assert parse_quality({"period_s": 900}, 60).period_s == 900
    assert parse_quality({"period_s": 86400}, 60).period_s == 86400
    assert parse_quality({"period_s": 90}, 30).period_s == 90


def test_inconsistent_matrix_is_refused_naming_the_matrix_and_its_ratio() -> None:
    # (1, 1, 1) is the principal eigenvector of this circulant matrix: lambda_max = 1 + 9 + 1/9
    cr = ((1 + 9 + 1 / 9) - 3) / 2 / RI_3
    assert f"{cr:.3f}" == "6.131"
    with pytest.raises(ConfigError) as err:
        parse_quality({"method": "ahp", "ahp": {"scores": THREE, "matrix": INCONSISTENT}}, 60)
    assert str(err.value) == ("quality.ahp.matrix: consistency ratio 6.131 is 0.1 or more; "
                              "revise the pairwise comparisons")


def ahp(matrix: Any, scores: Any = None) -> dict[str, Any]:
    return {"method": "ahp", "ahp": {"scores": THREE if scores is None else scores, "matrix": matrix}}


GOOD = [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]


@pytest.mark.parametrize(("raw", "message"), [
    (5, "quality: expected a table"),
    ({"colour": "blue"}, "quality.colour: unknown key"),
    ({"period_s": 0}, "quality.period_s: expected an integer >= 1, got 0"),
    ({"period_s": "1h"}, "quality.period_s: expected an integer >= 1, got '1h'"),
    ({"period_s": True}, "quality.period_s: expected an integer >= 1, got True"),
    ({"period_s": 90}, r"quality.period_s: 90 is not a multiple of window_s \(60\)"),
    ({"period_s": 25200}, r"quality.period_s: 25200 does not divide a day \(86400 s\) evenly"),
    ({"method": "topsis"}, "quality.method: expected one of expert, ahp, entropy, got 'topsis'"),
    ({"entropy_periods": 1}, "quality.entropy_periods: expected an integer >= 2, got 1"),
    ({"metrics_port": 70000}, "quality.metrics_port: expected a port 1..65535, got 70000"),
    ({"metrics_port": 0}, "quality.metrics_port: expected an integer >= 1"),
    ({"weights": 3}, "quality.weights: expected a table"),
    ({"weights": {"happiness": 1}}, "quality.weights.happiness: unknown score"),
    ({"weights": {"nps": -1}}, "quality.weights.nps: expected a number >= 0, got -1"),
    ({"weights": {"nps": "high"}}, "quality.weights.nps: expected a number, got 'high'"),
    ({"weights": {"nps": 0}}, "quality.weights: at least one weight must be greater than 0"),
    ({"weights": {}}, "quality.weights: at least one weight must be greater than 0"),
    ({"method": "ahp"}, r'quality.ahp: required when quality.method is "ahp"'),
    ({"ahp": []}, "quality.ahp: expected a table"),
    ({"ahp": {"scores": THREE, "matrix": GOOD, "order": 1}}, "quality.ahp.order: unknown key"),
    ({"ahp": {"scores": THREE}}, "quality.ahp.matrix: required"),
    ({"ahp": {"matrix": GOOD}}, "quality.ahp.scores: required"),
    (ahp(GOOD, "nps"), "quality.ahp.scores: expected an array of score names"),
    (ahp(GOOD, ["service_level", "speed", "nps"]), "quality.ahp.scores: unknown score 'speed'"),
    (ahp(GOOD, ["nps", "csat_mean", "nps"]), "quality.ahp.scores: 'nps' is listed twice"),
    (ahp([[1]], ["nps"]), "quality.ahp.scores: at least 2 scores"),
    (ahp("1,3;1/3,1"), r"quality.ahp.matrix: expected an array of rows"),
    (ahp([[1, 3, 5], ["one third", 1, 3], ["1/5", "1/3", 1]]),
     r'quality.ahp.matrix\[1\]\[0\]: expected a number or "a/b", got \'one third\''),
    (ahp([[1, 3, 5], ["1/0", 1, 3], ["1/5", "1/3", 1]]), r"quality.ahp.matrix\[1\]\[0\]: expected"),
    (ahp([[1, 3, 5], [False, 1, 3], ["1/5", "1/3", 1]]), r"quality.ahp.matrix\[1\]\[0\]: expected"),
    (ahp([[1, 3, 5], ["1/3", 1, 3]]), "quality.ahp.matrix: expected 3 rows"),
    (ahp([[1, 3], ["1/3", 1], ["1/5", "1/3"]]), r"quality.ahp.matrix: row \[0\] has 2 entries"),
    (ahp([[1, 3, 5], [3, 1, 3], ["1/5", "1/3", 1]]),
     r"quality.ahp.matrix: entry \[0\]\[1\] is 3.0 but \[1\]\[0\] is 3.0; they must be reciprocal"),
    (ahp([[1, 3, 5], ["1/3", 2, 3], ["1/5", "1/3", 1]]),
     r"quality.ahp.matrix: entry \[1\]\[1\] is 2.0; a score compared with itself is 1"),
    (ahp([[1, -3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]),
     r"quality.ahp.matrix: entry \[0\]\[1\] is -3.0; pairwise comparisons must be positive"),
    (ahp([[1, 12, 5], ["1/12", 1, 3], ["1/5", "1/3", 1]]), "quality.ahp.matrix: .*Saaty's scale"),
])
def test_errors_name_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        parse_quality(raw, 60)
