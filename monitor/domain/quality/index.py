"""The quality index of one channel and period, its scores and the spread across channels.

SPEC sections 7.2 and 7.3. Pure domain: integer sums in, plain numbers out. A period's scores come
from the period's sums (windows are added up first), never from an average of window ratios, so
a busy window weighs as much as its traffic and an empty one not at all. Every score is oriented
so that higher is better and lies on 0..1, which lets one weighted mean combine them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from monitor.domain.stream import feedback

#: The SERVQUAL dimensions (``monitor.domain.stream.feedback``), in the order of the per-dimension lists
#: of ``Sums``.
DIMENSIONS: Final = feedback.DIMENSIONS
#: Score names = the indicator each comes from; every score is oriented so that higher is better,
#: on 0..1.
SCORES: Final = ("service_level", "abandonment_rate", "resolution_rate", "on_time_resolution_rate",
                 "reopen_rate", "csat_mean", "nps", "servqual_gap")

#: SERVQUAL answers are on a 1..7 Likert scale, so a gap lies on -6..6.
_GAP_RANGE: Final = 6.0


def _zeros() -> list[int]:
    return [0] * len(DIMENSIONS)


class Sums(msgspec.Struct, gc=False):
    """Integer sums of one channel over one window or one period (periods add windows up).

    Integers only, so adding windows up is exact and order-independent; the ratios are taken
    once, at the end, by ``scores``.
    """

    opened: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    resolved: int = 0
    resolved_within_target: int = 0
    failed: int = 0
    reopened: int = 0
    feedback_responses: int = 0
    csat_responses: int = 0
    csat_sum: int = 0
    nps_responses: int = 0
    #: promoters (9-10) minus detractors (0-6)
    nps_net: int = 0
    complaints: int = 0
    #: one entry per ``DIMENSIONS``
    servqual_responses: list[int] = msgspec.field(default_factory=_zeros)
    servqual_expected_sum: list[int] = msgspec.field(default_factory=_zeros)
    servqual_perceived_sum: list[int] = msgspec.field(default_factory=_zeros)

    def add(self, other: Sums) -> None:
        """Add ``other`` into this one, in place (a period accumulates its windows)."""
        for name in self.__struct_fields__:
            mine = getattr(self, name)
            theirs = getattr(other, name)
            if isinstance(mine, list):
                setattr(self, name, [a + b for a, b in zip(mine, theirs, strict=True)])
            else:
                setattr(self, name, mine + theirs)

    @property
    def has_volume(self) -> bool:
        """Whether anything happened: consistency (SPEC 7.3) only compares channels with volume."""
        return (self.answered + self.abandoned + self.resolved + self.failed
                + self.feedback_responses + self.opened) > 0


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _complement(rate: float | None) -> float | None:
    """``1 - rate`` clamped to 0..1 (more reopens than resolutions in a period is possible)."""
    return None if rate is None else min(1.0, max(0.0, 1.0 - rate))


def servqual_gaps(s: Sums) -> dict[str, float | None]:
    """Per dimension, perceived mean minus expected mean (SERVQUAL gap 5); None without responses."""
    out: dict[str, float | None] = {}
    for i, dim in enumerate(DIMENSIONS):
        n = s.servqual_responses[i]
        out[dim] = (s.servqual_perceived_sum[i] - s.servqual_expected_sum[i]) / n if n else None
    return out


def _servqual_score(s: Sums) -> float | None:
    present = [(g + _GAP_RANGE) / (2 * _GAP_RANGE) for g in servqual_gaps(s).values() if g is not None]
    return math.fsum(present) / len(present) if present else None


def scores(s: Sums) -> dict[str, float | None]:
    """Every name of ``SCORES`` on 0..1, higher is better; None when its denominator is 0."""
    offered = s.answered + s.abandoned
    csat = _ratio(s.csat_sum, s.csat_responses)
    nps = _ratio(100 * s.nps_net, s.nps_responses)
    return {
        "service_level": _ratio(s.answered_within_target, offered),
        "abandonment_rate": _complement(_ratio(s.abandoned, offered)),
        "resolution_rate": _ratio(s.resolved, s.resolved + s.failed),
        "on_time_resolution_rate": _ratio(s.resolved_within_target, s.resolved),
        "reopen_rate": _complement(_ratio(s.reopened, s.resolved)),
        "csat_mean": None if csat is None else (csat - 1) / 4,
        "nps": None if nps is None else (nps + 100) / 200,
        "servqual_gap": _servqual_score(s),
    }


def quality_index(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """100 x the weighted mean of the present scores.

    Dividing by the weight of the present scores only spreads the weights of the missing ones
    over the rest in proportion, so a channel without surveys is not punished for the silence.
    None when no present score has a weight above 0. Names absent from ``weights`` weigh 0.
    """
    num: list[float] = []
    den: list[float] = []
    for name, value in scores.items():
        w = weights.get(name, 0.0)
        if value is None or w <= 0:
            continue
        num.append(w * value)
        den.append(w)
    total = math.fsum(den)
    return 100 * math.fsum(num) / total if total > 0 else None


class Spread(msgspec.Struct, frozen=True):
    """One score across the channels of one period (SPEC 7.3)."""

    mean: float
    #: population standard deviation: the channels are all there is, not a sample of them
    stddev: float
    #: stddev / mean; None when the mean is 0
    cv: float | None
    best_channel: str
    worst_channel: str


def _spread(values: Sequence[tuple[str, float]]) -> Spread:
    n = len(values)
    mean = math.fsum(v for _, v in values) / n
    stddev = math.sqrt(math.fsum((v - mean) ** 2 for _, v in values) / n)
    best = worst = values[0]
    for item in values[1:]:  # strict comparisons: a tie keeps the channel that came first
        if item[1] > best[1]:
            best = item
        if item[1] < worst[1]:
            worst = item
    return Spread(mean, stddev, stddev / mean if mean != 0 else None, best[0], worst[0])


def consistency(per_channel: Mapping[str, Mapping[str, float | None]],
                names: Sequence[str]) -> dict[str, Spread | None]:
    """Per name (a score name or ``"quality_index"``), its spread over the channels that have it.

    ``per_channel`` maps channel -> name -> value; the caller passes the channels with volume in
    the period. A missing or None value leaves that channel out for that name only. None for a
    name no channel has. Ties for best or worst go to the channel first in iteration order.
    """
    out: dict[str, Spread | None] = {}
    for name in names:
        values = [(ch, v) for ch, m in per_channel.items() if (v := m.get(name)) is not None]
        out[name] = _spread(values) if values else None
    return out
