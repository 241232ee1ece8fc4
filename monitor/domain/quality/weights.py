"""The weights of the quality index (SPEC 7.2): expert, AHP and entropy.

Each method returns a weight for every name of ``SCORES`` (0 for a score it does not use), summing
to 1 unless no score can be weighted at all, so a consumer never has to ask which names exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

from monitor.domain.quality.index import SCORES

#: Saaty's fundamental scale: 1..9 and the reciprocals; pymcdm's AHP accepts nothing else.
_SAATY: Final = frozenset(round(v, 2) for k in range(1, 10) for v in (float(k), 1 / k))
#: pairwise entries a_ij and a_ji are reciprocal when their product is within this of 1
_RECIPROCAL_TOLERANCE: Final = 1e-2
#: below this, a degree of diversification is rounding noise of an all-equal column, not a signal
_NOISE: Final = 1e-12


class WeightError(ValueError):
    """Weights that cannot be computed; the message says what is wrong (the config adds the key)."""


def _names(names: Sequence[str]) -> None:
    for i, name in enumerate(names):
        if name not in SCORES:
            raise WeightError(f"unknown score {name!r} (one of {', '.join(SCORES)})")
        if name in names[:i]:
            raise WeightError(f"score {name!r} is listed twice")


def expert(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights as given by experts, normalised to sum 1; scores not listed weigh 0."""
    _names(list(weights))
    for name, w in weights.items():
        if not math.isfinite(w) or w < 0:
            raise WeightError(f"weight of {name} must be a number >= 0, got {w!r}")
    total = math.fsum(weights.values())
    if total <= 0:
        raise WeightError("at least one weight must be greater than 0")
    return {name: weights.get(name, 0.0) / total for name in SCORES}


class Ahp(msgspec.Struct, frozen=True):
    """AHP weights (every score; 0 for those not compared) and the matrix's consistency ratio."""

    weights: dict[str, float]
    consistency_ratio: float


def _check_shape(n: int, matrix: Sequence[Sequence[float]]) -> None:
    if n < 2:
        raise WeightError(f"at least 2 scores are needed to compare them pairwise, got {n}")
    if len(matrix) != n:
        raise WeightError(f"expected {n} rows (one per score), got {len(matrix)}")
    for i, row in enumerate(matrix):
        if len(row) != n:
            raise WeightError(f"row [{i}] has {len(row)} entries, expected {n} (a square matrix)")


def _check_entries(matrix: Sequence[Sequence[float]]) -> None:
    for i, row in enumerate(matrix):
        for j, a in enumerate(row):
            where = f"entry [{i}][{j}]"
            if not math.isfinite(a) or a <= 0:
                raise WeightError(f"{where} is {a!r}; pairwise comparisons must be positive")
            if i == j and a != 1:
                raise WeightError(f"{where} is {a!r}; a score compared with itself is 1")
            if round(a, 2) not in _SAATY:
                raise WeightError(f"{where} is {a!r}; use Saaty's scale 1..9 or its reciprocals 1/2..1/9")


def _check_reciprocal(matrix: Sequence[Sequence[float]]) -> None:
    n = len(matrix)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = matrix[i][j], matrix[j][i]
            # rounded: 3 x 0.33 is 0.99 exactly on paper but 0.0100000000000001 off in floats
            if round(abs(a * b - 1), 9) > _RECIPROCAL_TOLERANCE:
                raise WeightError(f"entry [{i}][{j}] is {a!r} but [{j}][{i}] is {b!r}; "
                                  f"they must be reciprocal (a_ji = 1/a_ij)")


def ahp(names: Sequence[str], matrix: Sequence[Sequence[float]]) -> Ahp:
    """Weights from a pairwise comparison matrix: its principal eigenvector (pymcdm's AHP).

    ``matrix[i][j]`` says how much more important ``names[i]`` is than ``names[j]`` on Saaty's
    scale. The lower triangle only has to be reciprocal within 1e-2 (``"1/3"`` written as 0.33);
    the matrix handed to pymcdm takes the exact reciprocals of the upper triangle. A 2x2
    reciprocal matrix is always consistent, so its consistency ratio is 0 by definition (no
    random index exists for n <= 2); a 1x1 "comparison" is refused. A ratio of 0.1 or more is
    returned, not raised: refusing it is the config's decision.
    """
    _names(names)
    n = len(names)
    _check_shape(n, matrix)
    _check_entries(matrix)
    _check_reciprocal(matrix)
    np = _np()
    # imported here: pymcdm brings numpy, scipy and matplotlib, which every other command
    # (the worker among them) would carry for nothing: about 100 MiB and a second at start-up
    from pymcdm.weights.subjective import AHP  # type: ignore[import-untyped]

    m = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            m[i, j] = float(matrix[i][j])
            m[j, i] = 1.0 / m[i, j]
    try:
        model = AHP(matrix=m)
        vector = model()
        cr = float(model.get_cr())
    except ValueError as exc:  # checked above; kept so a library change still names the config
        raise WeightError(str(exc)) from exc
    by_name = {name: float(w) for name, w in zip(names, vector, strict=True)}
    return Ahp({name: by_name.get(name, 0.0) for name in SCORES}, cr)


def _np() -> Any:
    """numpy, imported on first use (see ``ahp``)."""
    import numpy

    return numpy


def _diversification(x: NDArray[np.float64]) -> float:
    """``1 - e`` of one score's present values; 0 when fewer than 2 or all zero."""
    n = x.size
    total = float(x.sum())
    if n < 2 or total <= 0:
        return 0.0
    p = x[x > 0] / total  # 0 ln 0 = 0: zeros add nothing to the entropy
    e = -float((p * _np().log(p)).sum()) / math.log(n)
    d = 1.0 - e
    return d if d > _NOISE else 0.0


def entropy(rows: Sequence[Mapping[str, float | None]]) -> dict[str, float]:
    """Entropy-weight method: a score that differs more between rows weighs more.

    ``rows``: one per (channel, period) of the look-back; a None or absent value is missing and
    that score is judged over the rows that have it (``n_j`` of them). Per score j:
    ``p_ij = x_ij / sum_i x_ij``, ``e_j = -(1/ln n_j) sum_i p_ij ln p_ij`` with ``0 ln 0 = 0``,
    ``d_j = 1 - e_j`` (0 when ``n_j < 2`` or the sum is 0); weights ``d_j / sum d``. When no
    score varies, equal weights over the scores present in any row (all 0 when none is). Names
    other than ``SCORES`` are ignored.

    Written here rather than taken from ``pymcdm.weights.entropy_weights``: pymcdm 1.4.0 needs a
    complete matrix, and a 0 in a column makes it fail (its sum normalisation refuses
    non-positive values; the entropy loop would otherwise set that column's entropy to 0, i.e.
    the largest weight), whereas a score of 0 is ordinary here (a period with service level 0)
    and by the 0 ln 0 = 0 convention simply contributes nothing. On a complete, zero-free matrix
    both agree (tested).
    """
    np = _np()
    d: dict[str, float] = {}
    present: list[str] = []
    for name in SCORES:
        values = [v for row in rows if (v := row.get(name)) is not None]
        x = np.asarray(values, dtype=np.float64)
        if x.size and (not np.all(np.isfinite(x)) or np.any(x < 0)):
            raise WeightError(f"entropy: {name} has a negative or non-finite value; scores are 0..1")
        if x.size:
            present.append(name)
        d[name] = _diversification(x)
    total = math.fsum(d.values())
    if total > 0:
        return {name: d[name] / total for name in SCORES}
    return {name: (1 / len(present) if name in present else 0.0) for name in SCORES}
