"""SLO burn-rate alerts and error budgets (SPEC 5.2), after the Google SRE workbook's
multi-window, multi-burn-rate alerts: a window pair alerts when both its long and its short
window burn the budget faster than the factor, and the short window saw ``min_events``.

Per SLO, in one group so that each alert reads the values recorded in the same evaluation (a
chain across groups lags an evaluation): the error ratio from the counters over every window the
pairs use (``sqm:slo_error:ratio_rate<w>``), the
events of each short window (``sqm:slo_events:increase<w>``), the error ratio over the whole
period and the budget left (``sqm:slo_error_budget:remaining_ratio``), then one page and one
ticket rule (``SqmErrorBudgetBurn``). Every series carries ``slo``, ``indicator`` and
``channel``.

Queues (SPEC 9). A per-channel SLO sums the counters over the workers and the queues
(``sum by (channel)``: one series per channel, no ``queue`` label); an SLO with
``by = ["queue"]`` sums per channel and queue over the queues' series (``queue!=""``), so its
records and alerts carry ``queue``. The record names are the same for both (``slo`` tells them
apart); the alerts and the budget select their SLO's own series (``queue=""`` or ``queue!=""``)
and match on the SLO's labels, so a channel's series never meets a queue's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from monitor.config import Config
from monitor.config.alerts import SloConfig
from monitor.ops.rules.names import (
    ANY_QUEUE,
    BY_CHANNEL,
    BY_QUEUE,
    CHANNEL_ONLY,
    RATIOS,
    SLO_RATIO,
    Not,
    anchor,
    selector,
    summed,
)


class Pair(NamedTuple):
    factor: float
    long: str
    short: str


#: (severity, window pairs) as in SPEC 5.2
BURN: tuple[tuple[str, tuple[Pair, ...]], ...] = (
    ("page", (Pair(14.4, "1h", "5m"), Pair(6, "6h", "30m"))),
    ("ticket", (Pair(3, "1d", "2h"), Pair(1, "3d", "6h"))),
)
ALERT = "SqmErrorBudgetBurn"


def windows() -> tuple[str, ...]:
    """Every window a pair uses, shortest first."""
    order = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    used = {w for _sev, pairs in BURN for p in pairs for w in (p.long, p.short)}
    return tuple(w for w in order if w in used)


def short_windows() -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.short for _sev, pairs in BURN for p in pairs))


def budget(slo: SloConfig) -> float:
    return round(1.0 - slo.objective, 12)


def unreachable(slo: SloConfig) -> list[str]:
    """Severities that can never fire: every pair needs an error ratio above 1."""
    return [sev for sev, pairs in BURN if all(p.factor * budget(slo) >= 1 for p in pairs)]


def per_queue(slo: SloConfig) -> bool:
    return slo.by == ("queue",)


def by(slo: SloConfig) -> tuple[str, ...]:
    """The labels of one of the SLO's series, besides ``slo`` and ``indicator``."""
    return BY_QUEUE if per_queue(slo) else BY_CHANNEL


def own(slo: SloConfig) -> str:
    """The selector of the SLO's recorded series: its name, and its channels' series only
    (``queue=""``) or its queues' only (``queue!=""``)."""
    queue: str | Not = ANY_QUEUE if per_queue(slo) else CHANNEL_ONLY
    return selector(slo=slo.name, queue=queue)


def slo_rules(cfg: Config, slo: SloConfig) -> list[dict[str, Any]]:
    labels = {"slo": slo.name, "indicator": slo.indicator}
    ratio = SLO_RATIO[slo.indicator]
    # a per-queue SLO counts the queues' series only; a per-channel one all of the channel's
    chans = selector(channel=slo.channels, queue=ANY_QUEUE if per_queue(slo) else None)
    group = by(slo)
    out: list[dict[str, Any]] = []
    good, total = RATIOS[ratio]
    period = f"{slo.period_days}d"
    for w in (*windows(), period):
        out.append({"record": f"sqm:slo_error:ratio_rate{w}",
                    "expr": (f"1 - (\n  {summed('rate', good, w, chans, group)}\n  /\n"
                             f"  {summed('rate', total, w, chans, group)}\n)\n"),
                    "labels": labels})
    for w in short_windows():
        out.append({"record": f"sqm:slo_events:increase{w}",
                    "expr": summed("increase", total, w, chans, group) + "\n",
                    "labels": labels})
    out.append({
        "record": "sqm:slo_error_budget:remaining_ratio",
        "expr": f"1 - sqm:slo_error:ratio_rate{period}{own(slo)} / {budget(slo):g}\n",
        "labels": labels,
    })
    out.extend(_alert(cfg, slo, sev, pairs) for sev, pairs in BURN)
    return out


def _alert(cfg: Config, slo: SloConfig, severity: str, pairs: tuple[Pair, ...]) -> dict[str, Any]:
    sel = own(slo)
    on = f"and on ({', '.join((*by(slo), 'slo'))})"
    terms = [
        f"(\n  sqm:slo_error:ratio_rate{p.long}{sel} > {p.factor:g} * {budget(slo):g}\n"
        f"  {on} sqm:slo_error:ratio_rate{p.short}{sel} > {p.factor:g} * {budget(slo):g}\n"
        f"  {on} sqm:slo_events:increase{p.short}{sel} >= {slo.min_events}\n)"
        for p in pairs
    ]
    how = "; or ".join(
        f"{p.factor:g}x the budget rate over {p.long} and {p.short}" for p in pairs)
    speed = "fast" if severity == "page" else "steadily"
    channel = "{{ $labels.channel }}"
    queue = "{{ $labels.queue }}"
    key, noun = ((f"{channel}/{queue}", f"queue {queue} of {channel}") if per_queue(slo)
                 else (channel, channel))
    return {
        "alert": ALERT,
        "expr": "\nor\n".join(terms) + "\n",
        "labels": {"severity": severity, "slo": slo.name, "indicator": slo.indicator},
        "annotations": {
            "summary": f"{key}: SLO {slo.name} is burning its error budget {speed} ({severity})",
            "description": (
                f"SLO {slo.name}: {slo.objective:g} of {slo.indicator} over {slo.period_days} "
                f"days on {noun}. The error ratio is "
                f"{{{{ $value | humanizePercentage }}}} over the long window, above {how} "
                f"(the short window saw at least {slo.min_events} events). At "
                f"{pairs[0].factor:g}x the whole budget is gone in {_exhaustion(slo, pairs[0])}."),
            "runbook_url": f"{cfg.rules.runbook_url}#{anchor(ALERT)}",
        },
    }


def _exhaustion(slo: SloConfig, pair: Pair) -> str:
    hours = slo.period_days * 24 / pair.factor
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
