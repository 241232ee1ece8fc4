"""An independent, deliberately naive reference for SPEC section 2.

It shares no code with ``monitor``: it sorts each interaction's events, walks the lifecycle,
buckets measurements into windows, and recomputes backlog at each window end by replaying every
interaction from scratch. Slow, obvious, and therefore a fair judge of the streaming code.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: order of equal times; a transfer comes before an answer at the same millisecond (SPEC 9)
RANK = {"opened": 0, "transferred": 1, "responded": 2, "abandoned": 3, "resolved": 4, "failed": 4,
        "reopened": 5}
TARGETS = {  # channel: (first response target s, resolution target s)
    "phone": (20, 600), "chat": (60, 1800), "email": (14400, 86400), "web": (300, 3600),
    "app": (300, 3600), "store": (300, 1800), "social": (3600, 86400),
}
SHORT_ABANDON_S = 5
REOPEN_WINDOW_S = 7 * 86400


def ts_ms(ts: int | str) -> int:
    if isinstance(ts, int):
        return ts
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nearest_rank(values: list[int], q: float) -> int:
    s = sorted(values)
    return s[max(1, math.ceil(q * len(s))) - 1]


@dataclass
class Outcome:
    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    #: SPEC 9: ``sqm.queues.v1`` records by (channel, queue, window start)
    queue_records: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    invalid: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    measured: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> count name -> n
    accepted: dict[tuple[str, str], int] = field(default_factory=dict)
    #: applied opened/transferred events that named an undeclared queue, by channel
    unlisted: dict[str, int] = field(default_factory=dict)
    first_ms: int = 0


@dataclass
class Backlog:
    """Backlog of one queue at one window end: waiting (unanswered), open, oldest waiting open."""

    waiting: int = 0
    open: int = 0
    oldest_ms: int | None = None


@dataclass(frozen=True)
class Queues:
    """SPEC 9, one channel: its declared queues (the default among them) and targets
    overriding the channel's ``(first response s, resolution s)``."""

    declared: tuple[str, ...] = ()
    default: str = "main"
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def labels(self) -> tuple[str, ...]:
        return (*self.declared, "other") if self.declared else (self.default,)

    def resolve(self, name: str | None) -> tuple[str, bool]:
        """(queue, undeclared): SPEC 9's reading of a ``queue`` field."""
        if name is None:
            return self.default, False
        if name in self.declared or (not self.declared and name == self.default):
            return name, False
        return ("other" if self.declared else self.default), True


def _empty_cell() -> dict[str, Any]:
    return {"n": defaultdict(int), "fr": [], "rs": [], "fb": []}


def compute(events: list[dict[str, Any]], window_s: int = 60, last_window_ms: int | None = None,
            channels: tuple[str, ...] = tuple(TARGETS),
            queues: dict[str, Queues] | None = None) -> Outcome:
    """Expected records for valid ``events`` (in delivery order; duplicates and disorder ok):
    per channel and, SPEC 9, per queue of ``queues`` (a channel left out: one queue, main)."""
    out = Outcome()
    qs = {ch: (queues or {}).get(ch, Queues()) for ch in channels}
    seen: set[tuple[str, str]] = set()
    per: dict[str, list[tuple[int, int, str, str, str, Any]]] = defaultdict(list)
    surveys: list[tuple[int, str, str, dict[str, Any]]] = []
    for e in events:
        k = (e["interaction_id"], e["event_id"])
        if k in seen:
            out.duplicates[e["channel"]] = out.duplicates.get(e["channel"], 0) + 1
            continue
        seen.add(k)
        t = ts_ms(e["ts"])
        if e["type"] == "feedback":  # SPEC 7.1: no lifecycle, the window of its own time
            surveys.append((t, e["channel"], e["interaction_id"], e["feedback"]))
            continue
        per[e["interaction_id"]].append((t, RANK[e["type"]], e["event_id"], e["type"],
                                         e["channel"], e.get("queue")))

    wms = window_s * 1000
    meas: dict[tuple[str, str, int], dict[str, Any]] = defaultdict(_empty_cell)
    first = None
    # valid applied events per interaction, for the backlog replay: (ts, type, queue after)
    valid: dict[str, tuple[str, list[tuple[int, str, str]]]] = {}
    for iid, evs in per.items():
        evs.sort(key=lambda x: x[:3])
        opened = None
        ch = None
        queue = ""
        responded = abandoned = False
        closed = None  # None | "resolved" | "failed"
        closed_ts = 0
        applied: list[tuple[int, str, str]] = []
        for t, _r, _eid, typ, ech, qname in evs:
            ok = True
            m: tuple[str, int] | None = None
            unlisted = False
            if typ == "opened":
                if opened is not None:
                    ok = False
                else:
                    opened, ch = t, ech
                    queue, unlisted = qs[ech].resolve(qname)
                    m = ("opened", 0)
            elif opened is None or t < opened:
                ok = False
            elif typ == "transferred":
                assert ch is not None
                if closed is not None or ech != ch:
                    ok = False
                else:
                    queue, unlisted = qs[ch].resolve(qname)
            elif typ == "responded":
                if abandoned:
                    ok = False
                elif not responded and closed is None:
                    responded = True
                    m = ("answered", t - opened)
            elif typ == "abandoned":
                if closed is not None or responded or abandoned:
                    ok = False
                else:
                    abandoned = True
                    m = ("abandoned", t - opened)
            elif typ in ("resolved", "failed"):
                if closed is not None:
                    ok = False
                else:
                    closed, closed_ts = typ, t
                    m = (typ, t - opened)
            elif typ == "reopened":
                if closed != "resolved" or t - closed_ts > REOPEN_WINDOW_S * 1000:
                    ok = False
                else:
                    closed = None
                    m = ("reopened", 0)
            if not ok:
                out.invalid += 1
                continue
            assert ch is not None
            applied.append((t, typ, queue))
            out.accepted[(ch, typ)] = out.accepted.get((ch, typ), 0) + 1
            if unlisted:
                out.unlisted[ch] = out.unlisted.get(ch, 0) + 1
            first = t if first is None else min(first, t)
            if m is None:
                continue
            kind, v = m
            cell = meas[(ch, queue, t - t % wms)]
            frt, rst = qs[ch].targets.get(queue, TARGETS[ch])
            if kind == "answered":
                cell["n"]["answered"] += 1
                cell["n"]["answered_within_target"] += v <= frt * 1000
                cell["fr"].append(v)
            elif kind == "abandoned":
                cell["n"]["abandoned" if v > SHORT_ABANDON_S * 1000 else "short_abandoned"] += 1
            elif kind == "resolved":
                cell["n"]["resolved"] += 1
                cell["n"]["resolved_within_target"] += v <= rst * 1000
                cell["rs"].append(v)
            else:
                cell["n"][kind] += 1
        if ch is not None:
            valid[iid] = (ch, applied)
    for t, ch_, iid, survey in surveys:
        # the queue its interaction is in at the survey's time (surveys come after the contact)
        q = qs[ch_].default
        if iid in valid and valid[iid][0] == ch_:
            for at, _typ, queue in valid[iid][1]:
                if at <= t:
                    q = queue
        meas[(ch_, q, t - t % wms)]["fb"].append(survey)
        out.accepted[(ch_, "feedback")] = out.accepted.get((ch_, "feedback"), 0) + 1
        first = t if first is None else min(first, t)

    assert first is not None
    out.first_ms = first - first % wms
    last = max(w for (_c, _q, w) in meas) if last_window_ms is None else last_window_ms
    for ch in channels:
        out.measured[ch] = defaultdict(int)
    started: set[tuple[str, str]] = set()
    for w in range(out.first_ms, last + wms, wms):
        end = w + wms
        backlog: dict[tuple[str, str], Backlog] = defaultdict(Backlog)
        for ch, applied in valid.values():
            opened_ts = None
            responded = abandoned = False
            is_closed = False
            queue = ""
            for t, typ, q in applied:
                if t >= end:
                    break
                queue = q
                if typ == "opened":
                    opened_ts = t
                elif typ == "responded":
                    responded = True
                elif typ == "abandoned":
                    abandoned = True
                elif typ in ("resolved", "failed"):
                    is_closed = True
                elif typ == "reopened":
                    is_closed = False
            if opened_ts is None or is_closed:
                continue
            b = backlog[(ch, queue)]
            b.open += 1
            if not responded and not abandoned:
                b.waiting += 1
                b.oldest_ms = opened_ts if b.oldest_ms is None else min(b.oldest_ms, opened_ts)
        for ch in channels:
            total = _empty_cell()
            wb = Backlog()
            for q in qs[ch].labels():
                found = meas.get((ch, q, w))
                qb = backlog.get((ch, q), Backlog())
                if found is not None or qb.open or qb.waiting:
                    started.add((ch, q))
                if (ch, q) not in started:
                    continue
                cell = found or _empty_cell()
                out.queue_records[(ch, q, w)] = {
                    "schema": "sqm.queues.v1", "channel": ch, "queue": q,
                    **_record(ch, w, end, cell, qb)}
                for name, v in cell["n"].items():
                    total["n"][name] += v
                for part in ("fr", "rs", "fb"):
                    total[part] += cell[part]
                wb.open += qb.open
                wb.waiting += qb.waiting
                if qb.oldest_ms is not None:
                    wb.oldest_ms = qb.oldest_ms if wb.oldest_ms is None else min(wb.oldest_ms,
                                                                                qb.oldest_ms)
            for k, v in total["n"].items():
                out.measured[ch][k] += v
            out.records[(ch, w)] = {"schema": "sqm.indicators.v1", "channel": ch,
                                    **_record(ch, w, end, total, wb)}
    return out


def _record(ch: str, w: int, end: int, cell: dict[str, Any], wb: Backlog) -> dict[str, Any]:
    """A window's fields (SPEC 2) from its measurements and its backlog at the window end."""
    n = cell["n"]
    answered, abandoned_n = n["answered"], n["abandoned"]
    resolved, failed = n["resolved"], n["failed"]

    def summary(vals: list[int]) -> dict[str, float | None]:
        if not vals:
            return {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}
        return {"p50": nearest_rank(vals, 0.5) / 1000, "p90": nearest_rank(vals, 0.9) / 1000,
                "p99": nearest_rank(vals, 0.99) / 1000,
                "mean": sum(vals) / len(vals) / 1000, "max": max(vals) / 1000}

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    return {
        "window_start": iso(w), "window_end": iso(end),
        "opened": n["opened"], "answered": answered,
        "answered_within_target": n["answered_within_target"],
        "abandoned": abandoned_n, "short_abandoned": n["short_abandoned"],
        "service_level": ratio(n["answered_within_target"], answered + abandoned_n),
        "abandonment_rate": ratio(abandoned_n, answered + abandoned_n),
        "first_response_s": summary(cell["fr"]),
        "resolved": resolved, "failed": failed,
        "resolution_rate": ratio(resolved, resolved + failed),
        "resolved_within_target": n["resolved_within_target"],
        "on_time_resolution_rate": ratio(n["resolved_within_target"], resolved),
        "resolution_s": summary(cell["rs"]),
        "reopened": n["reopened"], "reopen_rate": ratio(n["reopened"], resolved),
        "backlog_waiting": wb.waiting, "backlog_open": wb.open,
        "oldest_wait_s": 0 if wb.oldest_ms is None else (end - wb.oldest_ms) / 1000,
        **feedback_fields(cell["fb"], n["opened"]),
    }


DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")


def feedback_fields(surveys: list[dict[str, Any]], opened: int) -> dict[str, Any]:
    """SPEC 7.1's window fields, straight from the surveys' JSON."""
    csat = [f["csat"] for f in surveys if "csat" in f]
    nps = [f["nps"] for f in surveys if "nps" in f]
    promoters = sum(1 for x in nps if x >= 9)
    detractors = sum(1 for x in nps if x <= 6)
    complaints = sum(1 for f in surveys if f.get("complaint") is True)
    servqual: dict[str, Any] = {}
    for d in DIMENSIONS:
        pairs = [f["servqual"][d] for f in surveys if d in f.get("servqual", {})]
        if not pairs:
            servqual[d] = {"responses": 0, "expected_mean": None, "perceived_mean": None, "gap": None}
            continue
        exp = sum(p["expected"] for p in pairs) / len(pairs)
        per = sum(p["perceived"] for p in pairs) / len(pairs)
        servqual[d] = {"responses": len(pairs), "expected_mean": exp, "perceived_mean": per,
                       "gap": per - exp}
    return {
        "feedback_responses": len(surveys),
        "csat_responses": len(csat),
        "csat_mean": sum(csat) / len(csat) if csat else None,
        "csat_satisfied_ratio": sum(1 for x in csat if x >= 4) / len(csat) if csat else None,
        "nps_responses": len(nps),
        "nps": 100 * (promoters - detractors) / len(nps) if nps else None,
        "complaints": complaints,
        "complaint_rate": complaints / opened if opened else None,
        "servqual": servqual,
    }


QUANTILE_KEYS = ("p50", "p90", "p99")


def diff_record(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Field-by-field differences; quantiles within 1%, mean within float rounding."""
    problems: list[str] = []
    if set(expected) != set(got):
        problems.append(f"keys differ: {sorted(set(expected) ^ set(got))}")
    for k, ev in expected.items():
        gv = got.get(k)
        if isinstance(ev, dict):
            for sk, sev in ev.items():
                sgv = gv.get(sk) if isinstance(gv, dict) else None
                if sev is None or sgv is None:
                    ok = sev is None and sgv is None
                elif sk in QUANTILE_KEYS:
                    ok = abs(sgv - sev) <= 0.01 * sev + 1e-9
                elif sk == "mean":
                    ok = abs(sgv - sev) <= 1e-6 * max(1.0, sev)
                else:
                    ok = sgv == sev
                if not ok:
                    problems.append(f"{k}.{sk}: expected {sev}, got {sgv}")
        elif ev != gv:
            problems.append(f"{k}: expected {ev!r}, got {gv!r}")
    return problems


# --- threshold alerts (SPEC section 5.1) with the shipped defaults ---------------------------

#: indicator: (op, warning, critical, for_windows, volume fields or None); thresholds of
#: oldest_wait_s are multiples of the channel's first response target ("2x", "4x")
DEFAULT_ALERTS: dict[str, tuple[str, float | None, float | None, int, tuple[str, ...] | None]] = {
    "service_level": ("<", 0.8, 0.6, 2, ("answered", "abandoned")),
    "abandonment_rate": (">", 0.10, 0.20, 2, ("answered", "abandoned")),
    "resolution_rate": ("<", 0.90, 0.80, 2, ("resolved", "failed")),
    "oldest_wait_s": (">", 2.0, 4.0, 2, None),
    "no_data": (">", 0.0, None, 10, None),
}
CLEAR_WINDOWS = 2
MIN_VOLUME = 10


def _worse(op: str, value: float, threshold: float | None) -> bool:
    return threshold is not None and (value < threshold if op == "<" else value > threshold)


def alerts(records: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """The alert transitions the default rules make of these window records, by looking back
    at the classes ("crit", "warn", "clear") of the counted windows before each decision."""
    out: list[dict[str, Any]] = []
    for ch in sorted({c for c, _w in records}):
        windows = sorted(w for c, w in records if c == ch)
        for indicator, (op, warn_t, crit_t, for_n, volume) in DEFAULT_ALERTS.items():
            if indicator == "oldest_wait_s":
                target = TARGETS[ch][0]
                warn_t, crit_t = 2.0 * target, 4.0 * target
            counted: list[tuple[int, str]] = []  # (window, class)
            severity: str | None = None
            since = 0
            for i, w in enumerate(windows):
                rec = records[(ch, w)]
                if indicator == "no_data":
                    before = windows[max(0, i - 60):i]
                    value: float | None = 1 if rec["opened"] == 0 and any(
                        records[(ch, b)]["opened"] for b in before if w - b <= 60 * 60_000) else 0
                else:
                    value = rec[indicator]
                if value is None or (volume and sum(rec[f] for f in volume) < MIN_VOLUME):
                    continue
                cls = ("crit" if _worse(op, value, crit_t) else "warn" if _worse(op, value, warn_t)
                       else "clear")
                counted.append((w, cls))
                last = [c for _w, c in counted]
                new = severity
                state = "firing"
                if severity is None:
                    if crit_t is not None and last[-for_n:] == ["crit"] * for_n:
                        new = "critical"
                    elif len(last) >= for_n and "clear" not in last[-for_n:]:
                        new = "warning"
                    if new is not None:
                        run = len(last)
                        while run > 0 and last[run - 1] != "clear":
                            run -= 1
                        since = counted[run][0]
                elif last[-CLEAR_WINDOWS:] == ["clear"] * CLEAR_WINDOWS:
                    state = "resolved"
                elif severity == "warning" and last[-for_n:] == ["crit"] * for_n:
                    new = "critical"
                elif (severity == "critical" and len(last) >= CLEAR_WINDOWS
                      and "crit" not in last[-CLEAR_WINDOWS:] and cls == "warn"):
                    new = "warning"
                if new == severity and state == "firing":
                    continue
                shown = severity if state == "resolved" else new
                out.append({
                    "alert_id": f"{ch}/{indicator}/{iso(since)}", "channel": ch,
                    "indicator": indicator, "severity": shown, "state": state, "value": value,
                    "threshold": crit_t if shown == "critical" else warn_t, "op": op,
                    "window_start": rec["window_start"], "window_end": rec["window_end"],
                    "since": iso(since),
                })
                severity = None if state == "resolved" else new
    return out
