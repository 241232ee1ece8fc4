"""``[quality]`` of the configuration: the period and the weights of the quality index (SPEC 7.2).

::

    [quality]
    period_s = 3600          # multiple of window_s, and divides a day (86400) evenly
    method = "ahp"           # expert | ahp | entropy
    entropy_periods = 24     # look-back of the entropy method, in periods; >= 2
    metrics_port = 9311      # the quality stage's own /metrics port

    [quality.weights]        # expert: a weight >= 0 per score name; at least one > 0
    service_level = 3        # scores not listed weigh 0; without the table all 8 weigh the same
    csat_mean = 2

    [quality.ahp]            # ahp: the pairwise comparison matrix, rows and columns in this order
    scores = ["service_level", "csat_mean", "nps"]
    matrix = [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]   # numbers or "a/b" strings

Score names: ``monitor.domain.quality.index.SCORES``. AHP entries are on Saaty's scale (1..9 and the
reciprocals 1/2..1/9); a matrix whose consistency ratio is 0.1 or more is refused, since its
weights would say little more than the noise in the comparisons. The weights and AHP tables are
validated whatever the method, so switching ``method`` never uncovers a latent mistake. Absent
keys take the defaults; a bad one stops start-up with a message naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from monitor.config import check
from monitor.config.errors import ConfigError
from monitor.domain.quality import weights
from monitor.domain.quality.index import SCORES

DEFAULT_PERIOD_S: Final = 3600
DEFAULT_ENTROPY_PERIODS: Final = 24
DEFAULT_QUALITY_METRICS_PORT: Final = 9311
METHODS: Final = ("expert", "ahp", "entropy")
#: the AHP threshold of Saaty: at 0.1 or more the comparisons contradict each other too much
MAX_CONSISTENCY_RATIO: Final = 0.1
_DAY_S: Final = 86_400
_KEYS: Final = frozenset({"period_s", "method", "entropy_periods", "metrics_port", "weights", "ahp"})
_AHP_KEYS: Final = frozenset({"scores", "matrix"})
_FRACTION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?)\s*)?$")


def _equal_weights() -> dict[str, float]:
    return {name: 1 / len(SCORES) for name in SCORES}


@dataclass(frozen=True, slots=True)
class QualityConfig:
    #: the tumbling period of the quality index, seconds
    period_s: int = DEFAULT_PERIOD_S
    method: str = "expert"
    #: the entropy method's look-back, in periods
    entropy_periods: int = DEFAULT_ENTROPY_PERIODS
    #: the quality stage's own /metrics port
    metrics_port: int = DEFAULT_QUALITY_METRICS_PORT
    #: normalised (``weights.expert``), every score name; default: all equal
    expert_weights: dict[str, float] = field(default_factory=_equal_weights)
    #: the AHP matrix's row and column order
    ahp_scores: tuple[str, ...] = ()
    ahp_matrix: tuple[tuple[float, ...], ...] = ()
    #: computed at parse time when ``method == "ahp"``
    ahp_weights: dict[str, float] | None = None
    ahp_consistency_ratio: float | None = None

    def static_weights(self) -> dict[str, float] | None:
        """The expert or AHP weights; None for entropy, whose weights follow the data each period."""
        if self.method == "expert":
            return dict(self.expert_weights)
        if self.method == "ahp" and self.ahp_weights is not None:
            return dict(self.ahp_weights)
        return None



def parse_quality(raw: Any, window_s: int) -> QualityConfig:
    """The ``[quality]`` table (None: the defaults); ``window_s`` is the indicator window."""
    if raw is None:
        return QualityConfig()
    table = check.table("quality", raw, _KEYS, header=True)
    period_s = _period(table.get("period_s", DEFAULT_PERIOD_S), window_s)
    method = table.get("method", "expert")
    if not isinstance(method, str) or method not in METHODS:
        raise ConfigError(f"quality.method: expected one of {', '.join(METHODS)}, got {method!r}")
    entropy_periods = check.integer("quality.entropy_periods",
                           table.get("entropy_periods", DEFAULT_ENTROPY_PERIODS), 2)
    metrics_port = _port(table.get("metrics_port", DEFAULT_QUALITY_METRICS_PORT))
    expert_weights = _expert(table["weights"]) if "weights" in table else _equal_weights()
    if "ahp" not in table:
        if method == "ahp":
            raise ConfigError('quality.ahp: required when quality.method is "ahp" '
                                     "(scores and the pairwise comparison matrix)")
        return QualityConfig(period_s, method, entropy_periods, metrics_port, expert_weights)
    ahp_scores, ahp_matrix, result = _ahp(table["ahp"])
    chosen = result if method == "ahp" else None
    return QualityConfig(
        period_s, method, entropy_periods, metrics_port, expert_weights, ahp_scores, ahp_matrix,
        ahp_weights=None if chosen is None else chosen.weights,
        ahp_consistency_ratio=None if chosen is None else chosen.consistency_ratio,
    )


def _period(value: Any, window_s: int) -> int:
    """A whole number of windows that tiles a day, so periods align with windows and with days."""
    period = check.integer("quality.period_s", value, 1)
    if period % window_s:
        raise ConfigError(f"quality.period_s: {period} is not a multiple of window_s ({window_s})")
    if _DAY_S % period:
        raise ConfigError(f"quality.period_s: {period} does not divide a day ({_DAY_S} s) evenly")
    return period


def _port(value: Any) -> int:
    port = check.integer("quality.metrics_port", value, 1)
    if port > 65_535:
        raise ConfigError(f"quality.metrics_port: expected a port 1..65535, got {port}")
    return port


def _expert(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ConfigError("quality.weights: expected a table ([quality.weights])")
    given: dict[str, float] = {}
    for name, value in raw.items():
        if name not in SCORES:
            raise ConfigError(f"quality.weights.{name}: unknown score (one of {', '.join(SCORES)})")
        w = check.number(f"quality.weights.{name}", value)
        if w < 0:
            raise ConfigError(f"quality.weights.{name}: expected a number >= 0, got {value!r}")
        given[name] = w
    try:
        return weights.expert(given)
    except weights.WeightError as exc:
        raise ConfigError(f"quality.weights: {exc}") from exc


def _fraction(key: str, value: Any) -> float:
    """A matrix entry: a number, or ``"a/b"`` since TOML has no fractions."""
    if not isinstance(value, str):
        return check.number(key, value)
    m = _FRACTION.match(value)
    if m is None or (m.group(2) is not None and float(m.group(2)) == 0):
        raise ConfigError(f'{key}: expected a number or "a/b", got {value!r}')
    return float(m.group(1)) / (float(m.group(2)) if m.group(2) is not None else 1.0)


def _matrix(raw: Any) -> tuple[tuple[float, ...], ...]:
    key = "quality.ahp.matrix"
    if not isinstance(raw, list) or not all(isinstance(row, list) for row in raw):
        raise ConfigError(f"{key}: expected an array of rows (arrays of numbers)")
    return tuple(tuple(_fraction(f"{key}[{i}][{j}]", v) for j, v in enumerate(row))
                 for i, row in enumerate(raw))


def _ahp_scores(raw: Any) -> tuple[str, ...]:
    key = "quality.ahp.scores"
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ConfigError(f"{key}: expected an array of score names")
    for i, name in enumerate(raw):
        if name not in SCORES:
            raise ConfigError(f"{key}: unknown score {name!r} (one of {', '.join(SCORES)})")
        if name in raw[:i]:
            raise ConfigError(f"{key}: {name!r} is listed twice")
    return tuple(raw)


def _ahp(raw: Any) -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...], weights.Ahp]:
    table = check.table("quality.ahp", raw, _AHP_KEYS, header=True)
    for key in ("scores", "matrix"):
        if key not in table:
            raise ConfigError(f"quality.ahp.{key}: required")
    names = _ahp_scores(table["scores"])
    matrix = _matrix(table["matrix"])
    try:
        result = weights.ahp(names, matrix)
    except weights.WeightError as exc:
        key = "quality.ahp.scores" if len(names) < 2 else "quality.ahp.matrix"
        raise ConfigError(f"{key}: {exc}") from exc
    cr = result.consistency_ratio
    if cr >= MAX_CONSISTENCY_RATIO:
        raise ConfigError(f"quality.ahp.matrix: consistency ratio {cr:.3f} is "
                                 f"{MAX_CONSISTENCY_RATIO} or more; revise the pairwise comparisons")
    return names, matrix, result
