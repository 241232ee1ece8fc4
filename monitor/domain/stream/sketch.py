"""A mergeable quantile sketch with bounded relative error (log-spaced buckets, DDSketch-style).

Values are non-negative integer milliseconds. Bucket ``i`` holds values in ``(g**(i-1), g**i]``
with ``g = (1 + a) / (1 - a)``; its representative ``2 g**i / (g + 1)`` is within ``a`` of every
value in it. Quantiles follow the nearest-rank definition (rank ``ceil(q n)``), so an estimate is
within ``a`` (1%) of the exact nearest-rank value. Count, sum and max are exact, so the mean and
the maximum are exact too. Merging is adding bucket counts: partial sketches from different
partitions and batches combine to the same result in any order.
"""

from __future__ import annotations

import bisect
import math

import msgspec

REL_ACCURACY = 0.01
_GAMMA = (1 + REL_ACCURACY) / (1 - REL_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)


# Upper bounds g**i of the buckets, up to about 35 years in ms: a bisect finds a value's
# bucket without a logarithm (the hot path adds a value per answered or resolved contact).
_BOUNDS = [_GAMMA**i for i in range(math.ceil(math.log(2.0**40) / _LOG_GAMMA) + 1)]


def bucket_of(value_ms: int) -> int:
    """Bucket index: the smallest ``i`` with ``g**i >= value``, plus one; 0 is for the value 0."""
    if value_ms <= 0:
        return 0
    i = bisect.bisect_left(_BOUNDS, value_ms)
    if i == len(_BOUNDS):  # beyond the table: compute it (never seen in practice)
        i = math.ceil(math.log(value_ms) / _LOG_GAMMA)
        while _GAMMA**i < value_ms:
            i += 1
    return i + 1  # shift so that 1 ms lands in bucket >= 1


def bucket_value(index: int) -> float:
    """Representative value (ms) of a bucket."""
    if index == 0:
        return 0.0
    return 2 * _GAMMA ** (index - 1) / (_GAMMA + 1)


class Sketch:
    """Counts per bucket plus exact count, sum and max."""

    __slots__ = ("buckets", "count", "max_ms", "sum_ms")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.sum_ms = 0
        self.max_ms = 0

    def add(self, value_ms: int) -> None:
        b = bucket_of(value_ms)
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.sum_ms += value_ms
        if value_ms > self.max_ms:
            self.max_ms = value_ms

    def merge(self, other: Sketch) -> None:
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + n
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.max_ms = max(self.max_ms, other.max_ms)

    def quantile_ms(self, q: float) -> float | None:
        """Nearest-rank quantile estimate in ms; None when empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        if rank >= self.count:
            return float(self.max_ms)
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                return min(bucket_value(b), float(self.max_ms))
        return float(self.max_ms)  # pragma: no cover - counts always reach rank

    def summary(self) -> Summary:
        """Nearest-rank p50, p90 and p99 estimates, exact mean and max (all None when empty)."""
        if self.count == 0:
            return EMPTY_SUMMARY
        return Summary(self.quantile_ms(0.5), self.quantile_ms(0.9), self.quantile_ms(0.99),
                       self.sum_ms / self.count, self.max_ms)


class Summary(msgspec.Struct, frozen=True, gc=False):
    """A distribution as the indicators report it, in milliseconds."""

    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: int | None


EMPTY_SUMMARY = Summary(None, None, None, None, None)
