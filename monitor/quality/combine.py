"""The cross-channel step (SPEC 7.2-7.4), without Faust: once every configured channel has closed
a period, its scores, weights, index, SERVQUAL gaps and consistency, and the records to publish.

Copies of a closure (re-reads after a crash, a period re-opened by a late copy of a window) are
merged per window like the periods themselves, so the result never depends on how often or in
which order they arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.contract import quality as wire
from monitor.domain.quality import weights as weights_mod
from monitor.domain.quality.index import (
    SCORES,
    Sums,
    consistency,
    quality_index,
    scores,
    servqual_gaps,
)
from monitor.quality.periods import total
from monitor.state.periods import ChannelResult, Closure, Pending, PeriodResult, ScoreRow


def merge(pending: Pending | None, c: Closure) -> Pending:
    """``pending`` with the closure's windows (a window already there is replaced)."""
    out = Pending({ch: dict(ws) for ch, ws in pending.channels.items()} if pending else {})
    out.channels.setdefault(c.channel, {}).update(c.windows)
    return out


def complete(pending: Pending, channels: Sequence[str]) -> bool:
    """Every configured channel has closed the period."""
    return all(ch in pending.channels for ch in channels)


def period_weights(method: str, static: Mapping[str, float] | None,
                   rows: Sequence[Mapping[str, float | None]]) -> dict[str, float]:
    """Expert and AHP weights are fixed by the config; entropy weights follow the rows."""
    if method == "entropy" or static is None:
        return weights_mod.entropy(rows)
    return {name: float(static.get(name, 0.0)) for name in SCORES}


def compute(channels: Sequence[str], period_start_ms: int, period_end_ms: int, pending: Pending,
            method: str, static: Mapping[str, float] | None,
            history: Sequence[Mapping[str, float | None]]) -> PeriodResult:
    """The result of the period ``period_start_ms``..``period_end_ms``. ``history``: the score
    rows (channels with volume) of the earlier periods of the entropy look-back; this period's
    rows are added here."""
    per: list[tuple[str, Sums, ScoreRow]] = []
    for ch in channels:
        s = total(pending.channels.get(ch, {}))
        per.append((ch, s, scores(s)))
    rows = [row for _ch, s, row in per if s.has_volume]
    w = period_weights(method, static, [*history, *rows])
    results = [ChannelResult(ch, s.has_volume, row, quality_index(row, w), servqual_gaps(s))
               for ch, s, row in per]
    compared = {r.channel: {**r.scores, "quality_index": r.quality_index}
                for r in results if r.has_volume}
    return PeriodResult(period_start_ms, period_end_ms, method, w, results,
                        consistency(compared, wire.CONSISTENCY_NAMES))


def records(result: PeriodResult) -> list[tuple[bytes, bytes]]:
    """``sqm.quality.v1`` (key, value) pairs: every channel in config order, then consistency."""
    out = [(r.channel.encode(), wire.encode(wire.channel_record(
        r.channel, result.period_start_ms, result.period_end_ms, r.quality_index, r.scores,
        result.weights, result.method, r.servqual_gap))) for r in result.channels]
    out.append((wire.CONSISTENCY_KEY, wire.encode(wire.consistency_record(
        result.period_start_ms, result.period_end_ms, result.consistency))))
    return out


def lookback_start(period_start_ms: int, period_ms: int, lookback_periods: int) -> int:
    """The oldest period start of the entropy look-back: ``lookback_periods`` periods of length
    ``period_ms``, the one starting at ``period_start_ms`` included."""
    return period_start_ms - (lookback_periods - 1) * period_ms
