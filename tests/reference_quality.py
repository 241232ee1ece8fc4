"""An independent reference for SPEC 7.2-7.4 (quality index, weights, consistency) and the
``quality_index`` threshold alerts of SPEC 5.1, from the raw events.

It shares no code with ``monitor``: lifecycle counts per window come from ``tests/reference.py``
(which walks each interaction itself) and are added up per period; surveys are read straight from
the events. Scores, the three weighting methods (AHP by power iteration, entropy written out),
the index, the consistency and the alert state machine are plain Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reference import compute, iso, ts_ms

SCORES = ("service_level", "abandonment_rate", "resolution_rate", "on_time_resolution_rate",
          "reopen_rate", "csat_mean", "nps", "servqual_gap")
DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
COUNTS = ("opened", "answered", "answered_within_target", "abandoned", "resolved",
          "resolved_within_target", "failed", "reopened")
Row = dict[str, float | None]


@dataclass
class PeriodData:
    """One channel in one period: lifecycle counts and the surveys."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    surveys: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_volume(self) -> bool:
        c = self.counts
        return (c["answered"] + c["abandoned"] + c["resolved"] + c["failed"] + c["opened"]
                + len(self.surveys)) > 0


def period_data(events: list[dict[str, Any]], channels: tuple[str, ...], period_ms: int,
                last_window_ms: int) -> dict[tuple[str, int], PeriodData]:
    """(channel, period start) -> its data, for every period from the first window on."""
    out: dict[tuple[str, int], PeriodData] = defaultdict(PeriodData)
    windows = compute(events, last_window_ms=last_window_ms, channels=channels)
    for (ch, w), rec in windows.records.items():
        cell = out[(ch, w - w % period_ms)]
        for name in COUNTS:
            cell.counts[name] += rec[name]
    seen: set[tuple[str, str]] = set()
    for e in events:
        k = (e["interaction_id"], e["event_id"])
        if k in seen:
            continue
        seen.add(k)
        if e["type"] == "feedback":
            t = ts_ms(e["ts"])
            out[(e["channel"], t - t % period_ms)].surveys.append(e["feedback"])
    return dict(out)


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def gaps(d: PeriodData) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for dim in DIMENSIONS:
        pairs = [s["servqual"][dim] for s in d.surveys if dim in s.get("servqual", {})]
        exp = _mean([p["expected"] for p in pairs])
        per = _mean([p["perceived"] for p in pairs])
        out[dim] = None if exp is None or per is None else per - exp
    return out


def scores(d: PeriodData) -> Row:
    c = d.counts
    offered = c["answered"] + c["abandoned"]
    closed = c["resolved"] + c["failed"]
    csat = [s["csat"] for s in d.surveys if "csat" in s]
    nps = [s["nps"] for s in d.surveys if "nps" in s]
    nps_value = (100 * (sum(x >= 9 for x in nps) - sum(x <= 6 for x in nps)) / len(nps)
                 if nps else None)
    present_gaps = [g for g in gaps(d).values() if g is not None]
    csat_mean = _mean(csat)
    return {
        "service_level": c["answered_within_target"] / offered if offered else None,
        "abandonment_rate": max(0.0, 1 - c["abandoned"] / offered) if offered else None,
        "resolution_rate": c["resolved"] / closed if closed else None,
        "on_time_resolution_rate": (c["resolved_within_target"] / c["resolved"]
                                    if c["resolved"] else None),
        "reopen_rate": max(0.0, 1 - c["reopened"] / c["resolved"]) if c["resolved"] else None,
        "csat_mean": None if csat_mean is None else (csat_mean - 1) / 4,
        "nps": None if nps_value is None else (nps_value + 100) / 200,
        "servqual_gap": (sum((g + 6) / 12 for g in present_gaps) / len(present_gaps)
                         if present_gaps else None),
    }


# --- weights ---------------------------------------------------------------------------------


def expert_weights(given: Mapping[str, float]) -> dict[str, float]:
    total = sum(given.values())
    return {s: given.get(s, 0.0) / total for s in SCORES}


def ahp_weights(names: Sequence[str], upper: Sequence[Sequence[float]]) -> dict[str, float]:
    """Principal eigenvector by power iteration of the reciprocal matrix built from the upper
    triangle of ``upper``."""
    n = len(names)
    a = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            a[i][j] = float(upper[i][j])
            a[j][i] = 1.0 / a[i][j]
    v = [1.0 / n] * n
    for _ in range(1000):
        w = [sum(a[i][j] * v[j] for j in range(n)) for i in range(n)]
        total = sum(w)
        w = [x / total for x in w]
        if max(abs(x - y) for x, y in zip(w, v, strict=True)) < 1e-16:
            break
        v = w
    by_name = dict(zip(names, w, strict=True))
    return {s: by_name.get(s, 0.0) for s in SCORES}


def entropy_weights(rows: Sequence[Row]) -> dict[str, float]:
    """Per score j over the rows that have it: p_ij = x_ij / sum_i x_ij,
    e_j = -(1 / ln n_j) sum_i p_ij ln p_ij (0 ln 0 = 0), d_j = 1 - e_j (0 when n_j < 2 or the
    sum is 0, and below 1e-12, the rounding noise of an all-equal column); w_j = d_j / sum d;
    equal weights over the scores present when no score varies."""
    d: dict[str, float] = {}
    present = []
    for s in SCORES:
        xs = [r[s] for r in rows if r.get(s) is not None]
        vals = [x for x in xs if x is not None]
        if vals:
            present.append(s)
        total = sum(vals)
        if len(vals) < 2 or total <= 0:
            d[s] = 0.0
            continue
        e = -sum((x / total) * math.log(x / total) for x in vals if x > 0) / math.log(len(vals))
        d[s] = 1 - e if 1 - e > 1e-12 else 0.0
    dsum = sum(d.values())
    if dsum > 0:
        return {s: d[s] / dsum for s in SCORES}
    return {s: (1 / len(present) if s in present else 0.0) for s in SCORES}


def index(row: Row, weights: Mapping[str, float]) -> float | None:
    pairs = [(weights[s], v) for s, v in row.items() if v is not None and weights.get(s, 0) > 0]
    wsum = sum(w for w, _ in pairs)
    return 100 * sum(w * v for w, v in pairs) / wsum if wsum > 0 else None


def spread(values: list[tuple[str, float]]) -> dict[str, Any] | None:
    if not values:
        return None
    n = len(values)
    mean = sum(v for _, v in values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for _, v in values) / n)
    best = max(values, key=lambda cv: cv[1])  # max/min keep the first of equals
    worst = min(values, key=lambda cv: cv[1])
    return {"mean": mean, "stddev": sd, "cv": sd / mean if mean != 0 else None,
            "best_channel": best[0], "worst_channel": worst[0]}


# --- records ----------------------------------------------------------------------------------


@dataclass
class Method:
    name: str
    expert: dict[str, float] | None = None
    ahp_names: tuple[str, ...] = ()
    ahp_upper: tuple[tuple[float, ...], ...] = ()
    entropy_periods: int = 24


def expected_records(data: Mapping[tuple[str, int], PeriodData], channels: tuple[str, ...],
                     periods: Sequence[int], period_ms: int,
                     method: Method) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(kind, channel or "*", period_start) -> the expected ``sqm.quality.v1`` record, for
    ``periods`` (in order; every period since the first must be listed for entropy)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    history: dict[int, list[Row]] = {}
    for p in periods:
        rows = {ch: scores(data.get((ch, p), PeriodData())) for ch in channels}
        volume = [ch for ch in channels if data.get((ch, p), PeriodData()).has_volume]
        history[p] = [rows[ch] for ch in volume]
        if method.name == "expert":
            assert method.expert is not None
            w = expert_weights(method.expert)
        elif method.name == "ahp":
            w = ahp_weights(method.ahp_names, method.ahp_upper)
        else:
            oldest = p - (method.entropy_periods - 1) * period_ms
            w = entropy_weights([r for q, rs in history.items() if oldest <= q <= p for r in rs])
        period_start, period_end = iso(p), iso(p + period_ms)
        idx: dict[str, float | None] = {}
        for ch in channels:
            idx[ch] = index(rows[ch], w)
            out[("channel", ch, period_start)] = {
                "schema": "sqm.quality.v1", "kind": "channel", "period_start": period_start,
                "period_end": period_end, "channel": ch, "quality_index": idx[ch], "scores": rows[ch],
                "weights": w, "method": method.name,
                "servqual_gap": gaps(data.get((ch, p), PeriodData()))}
        cons: dict[str, Any] = {}
        for name in (*SCORES, "quality_index"):
            vals = [(ch, v) for ch in volume
                    if (v := (idx[ch] if name == "quality_index" else rows[ch][name])) is not None]
            cons[name] = spread(vals)
        out[("consistency", "*", period_start)] = {
            "schema": "sqm.quality.v1", "kind": "consistency", "period_start": period_start,
            "period_end": period_end, "scores": cons}
    return out


# --- quality_index alerts (SPEC 5.1) -----------------------------------------------------------


@dataclass
class AlertRef:
    """One ``quality_index`` rule with op ``<``; periods in order; nulls leave it as it is."""

    warning: float
    critical: float
    for_periods: int
    clear_periods: int
    severity: str | None = None
    since: int | None = None
    warn_run: int = 0
    crit_run: int = 0
    clear_run: int = 0
    crit_clear_run: int = 0

    def feed(self, channel: str, period_start_ms: int, period_end_ms: int,
             value: float | None) -> dict[str, Any] | None:
        if value is None:
            return None
        crit = value < self.critical
        warn = crit or value < self.warning
        if warn and self.warn_run == 0 and self.severity is None:
            self.since = period_start_ms
        self.warn_run = self.warn_run + 1 if warn else 0
        self.crit_run = self.crit_run + 1 if crit else 0
        self.clear_run = 0 if warn else self.clear_run + 1
        self.crit_clear_run = 0 if crit else self.crit_clear_run + 1
        new = self.severity
        if self.severity is None:
            if self.crit_run >= self.for_periods:
                new = "critical"
            elif self.warn_run >= self.for_periods:
                new = "warning"
        elif self.clear_run >= self.clear_periods:
            rec = self._record(channel, period_start_ms, period_end_ms, value, "resolved")
            self.severity = self.since = None
            return rec
        elif self.severity == "warning" and self.crit_run >= self.for_periods:
            new = "critical"
        elif (self.severity == "critical" and self.crit_clear_run >= self.clear_periods
              and self.warn_run > 0):
            new = "warning"
        if new == self.severity:
            return None
        self.severity = new
        return self._record(channel, period_start_ms, period_end_ms, value, "firing")

    def _record(self, channel: str, period_start_ms: int, period_end_ms: int, value: float,
                state: str) -> dict[str, Any]:
        assert self.severity is not None and self.since is not None
        return {"alert_id": f"{channel}/quality_index/{iso(self.since)}", "channel": channel,
                "indicator": "quality_index", "severity": self.severity, "state": state,
                "value": value, "op": "<",
                "threshold": self.critical if self.severity == "critical" else self.warning,
                "window_start": iso(period_start_ms), "window_end": iso(period_end_ms),
                "since": iso(self.since)}


def expected_alerts(records: Mapping[tuple[str, str, str], dict[str, Any]],
                    channels: tuple[str, ...], periods: Sequence[int], period_ms: int,
                    warning: float, critical: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ch in channels:
        ref = AlertRef(warning, critical, 1, 1)
        for p in periods:
            value = records[("channel", ch, iso(p))]["quality_index"]
            rec = ref.feed(ch, p, p + period_ms, value)
            if rec is not None:
                out.append(rec)
    return out
