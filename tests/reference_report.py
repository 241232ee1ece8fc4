"""The test's own reference for ``sqm report`` (SPEC section 8): a seeded scenario of raw events,
and the period figures a report over it must carry, computed with plain Python from the window
records of ``tests/reference.py`` (never with the production domain functions).

Figures are returned as the text the report prints, following ``monitor/report/fmt.py``'s rules
(re-implemented here): a share as a percentage with 1 decimal, a SERVQUAL gap signed with 2
decimals and a real minus sign, a count with spaces between thousands.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from reference import DIMENSIONS, alerts, compute

Event = dict[str, Any]
Record = dict[str, Any]

CHANNELS = ("phone", "chat")
WINDOW_MS = 60_000
PERIOD_MS = 300_000
PERIODS = 3
WINDOWS = PERIODS * PERIOD_MS // WINDOW_MS
#: phone answers late in these windows (by index from the start): its service level drops,
#: a ``service_level`` alert fires, then resolves once the answers are quick again
DEGRADED = range(5, 9)
#: the shipped defaults (SPEC 5.1, 5.2) the report judges with: no [[alerts]], no [[slos]]
SL_WARNING = 0.8
MIN_VOLUME = 10
SLO_NAME = "answered_in_time"
SLO_OBJECTIVE = 0.8
MINUS = "\u2212"
NA = "n/a"
#: the channel whose SERVQUAL gaps are checked
GAP_CHANNEL = "chat"


# --- formatting, as monitor/report/fmt.py describes it ---------------------------------------


def pct(x: float | None) -> str:
    return NA if x is None else f"{100 * x:.1f}%"


def signed(x: float | None) -> str:
    return NA if x is None else f"{x:+.2f}".replace("-", MINUS)


def count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


# --- the scenario ------------------------------------------------------------------------------


class Scenario:
    """``PERIODS`` quality periods of both channels from ``t0`` (a period boundary), about 16
    contacts per channel and window, a few surveys per channel and period; no event at or after
    the end (a closing that would fall there is left out: the contact stays open)."""

    def __init__(self, t0: int, seed: int) -> None:
        self.t0 = t0
        self.end = t0 + PERIODS * PERIOD_MS
        self.rng = random.Random(seed)
        self.n = 0
        events: list[Event] = []
        for ch in CHANNELS:
            for w in range(WINDOWS):
                for _ in range(self.rng.randint(14, 18)):
                    events += self._interaction(ch, w)
            for p in range(PERIODS):
                for _ in range(self.rng.randint(3, 6)):
                    events.append(self._survey(ch, p))
        self.events = sorted((e for e in events if e["ts"] < self.end),
                             key=lambda e: (e["ts"], e["event_id"]))

    def _answer_delay_s(self, ch: str, w: int) -> int:
        if ch == "phone":
            late = w in DEGRADED
            return self.rng.choice([15, 25, 35, 50] if late else [3, 5, 8, 11, 14, 17])
        return self.rng.choice([5, 10, 20, 30, 40, 50, 58, 75])

    def _interaction(self, ch: str, w: int) -> list[Event]:
        rng = self.rng
        o = self.t0 + w * WINDOW_MS + rng.randrange(WINDOW_MS)
        times = [(o, "opened")]
        draw = rng.random()
        if draw < 0.88:
            r = o + self._answer_delay_s(ch, w) * 1000 + rng.randrange(1000)
            c = r + rng.choice([30, 90, 200, 400, 700]) * 1000 + rng.randrange(1000)
            closing = "resolved" if rng.random() < 0.94 else "failed"
            times += [(r, "responded"), (c, closing)]
            if closing == "resolved" and rng.random() < 0.1:
                times += [(c + 15_000, "reopened"), (c + 40_000, "resolved")]
        else:
            times.append((o + rng.choice([3, 12, 30]) * 1000 + rng.randrange(900), "abandoned"))
        self.n += 1
        iid = f"{ch}-i{self.n}"
        return [{"event_id": f"{iid}-{k}", "interaction_id": iid, "channel": ch, "type": typ,
                 "ts": t} for k, (t, typ) in enumerate(times)]

    def _survey(self, ch: str, p: int) -> Event:
        rng = self.rng
        t = self.t0 + p * PERIOD_MS + rng.randrange(PERIOD_MS)
        fb: dict[str, Any] = {"csat": rng.randint(1, 5), "nps": rng.randint(0, 10)}
        dims = rng.sample(DIMENSIONS, rng.randint(2, len(DIMENSIONS)))
        fb["servqual"] = {d: {"expected": rng.randint(4, 7), "perceived": rng.randint(1, 7)}
                          for d in dims}
        self.n += 1
        sid = f"{ch}-s{self.n}"
        return {"event_id": sid, "interaction_id": sid, "channel": ch, "type": "feedback",
                "ts": t, "feedback": fb}


# --- the expected figures ----------------------------------------------------------------------

SUM_FIELDS = ("opened", "answered", "answered_within_target", "abandoned", "resolved", "failed",
              "reopened")


@dataclass
class ChannelFigures:
    """One channel's figures over the range, as raw numbers."""

    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUM_FIELDS, 0))
    windows: int = 0
    counted: int = 0  # windows the service_level rule counts (value present, volume >= 10)
    met: int = 0
    counted_volume: int = 0
    gaps: dict[str, float | None] = field(default_factory=dict)

    @property
    def offered(self) -> int:
        return self.sums["answered"] + self.sums["abandoned"]

    def add_window(self, rec: Record) -> None:
        self.windows += 1
        for f in SUM_FIELDS:
            self.sums[f] += rec[f]
        volume = rec["answered"] + rec["abandoned"]
        if rec["service_level"] is None or volume < MIN_VOLUME:
            return
        self.counted += 1
        self.counted_volume += volume
        self.met += rec["service_level"] >= SL_WARNING


@dataclass
class Expected:
    channels: dict[str, ChannelFigures]
    episodes: int
    resolved_episodes: int
    transitions: int


def servqual_gaps(events: list[Event], channel: str) -> dict[str, float | None]:
    """Perceived minus expected per dimension over every survey of ``channel``."""
    out: dict[str, float | None] = {}
    for d in DIMENSIONS:
        pairs = [e["feedback"]["servqual"][d] for e in events
                 if e["channel"] == channel and e["type"] == "feedback"
                 and d in e["feedback"].get("servqual", {})]
        out[d] = (sum(p["perceived"] - p["expected"] for p in pairs) / len(pairs)
                  if pairs else None)
    return out


def expected(sc: Scenario) -> Expected:
    ref = compute(sc.events, 60, last_window_ms=sc.end - WINDOW_MS, channels=CHANNELS)
    figures = {ch: ChannelFigures() for ch in CHANNELS}
    for (ch, w), rec in sorted(ref.records.items()):
        assert sc.t0 <= w < sc.end
        figures[ch].add_window(rec)
    for ch in CHANNELS:
        figures[ch].gaps = servqual_gaps(sc.events, ch)
    transitions = alerts(ref.records)
    ids = {a["alert_id"] for a in transitions}
    resolved = {a["alert_id"] for a in transitions if a["state"] == "resolved"}
    return Expected(figures, len(ids), len(resolved), len(transitions))


def summary_row(f: ChannelFigures) -> dict[str, str]:
    s = f.sums
    return {"Opened": count(s["opened"]), "Offered": count(f.offered),
            "Answered in target": count(s["answered_within_target"]),
            "Abandoned": count(s["abandoned"]), "Resolved": count(s["resolved"]),
            "Failed": count(s["failed"]), "Reopened": count(s["reopened"])}


def service_level(f: ChannelFigures) -> str:
    """The range's service level from its sums (not a mean of window ratios)."""
    return pct(f.sums["answered_within_target"] / f.offered if f.offered else None)


def attainment_row(f: ChannelFigures) -> dict[str, str]:
    return {"Windows": count(f.counted), "Met": count(f.met),
            "Skipped": count(f.windows - f.counted),
            "Share met": pct(f.met / f.counted if f.counted else None),
            "Volume": count(f.counted_volume)}


def budget_row(f: ChannelFigures) -> dict[str, str]:
    good, total = f.sums["answered_within_target"], f.offered
    bad = total - good
    allowed = (1 - SLO_OBJECTIVE) * total
    return {"Good": count(good), "Total": count(total), "Bad": count(bad),
            "Allowed bad": f"{allowed:.1f}", "Spent": pct(bad / allowed if total else None)}


def gap_row(f: ChannelFigures) -> dict[str, str]:
    return {d: signed(f.gaps[d]) for d in DIMENSIONS}
