"""Threshold alerts through stage two with the shipped defaults: a phone service level that
drops below 0.6 fires a critical alert once, in the batch of the window that decides it, and a
restart of stage two (state from its changelog) neither repeats the firing nor loses the
resolution. Expected records are written out by hand from SPEC sections 3 and 5.1."""

from __future__ import annotations

from typing import Any

from stream_harness import Pipeline, at, ev, iso_s

W = 60_000
W0 = at("10:00:00")


def window_events(k: int, good: int, bad: int) -> list[bytes]:
    """Window k: ``good`` phone contacts answered in 5 s, ``bad`` in 30 s (target 20 s)."""
    out = []
    for j in range(good + bad):
        opened = W0 + k * W + j * 2_000
        wait = 5_000 if j < good else 30_000
        iid = f"w{k}c{j}"
        out += [ev(f"{iid}o", iid, "opened", opened), ev(f"{iid}r", iid, "responded", opened + wait)]
    return out


#: service level per window: 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0
PLAN = [(10, 0), (5, 5), (5, 5), (5, 5), (10, 0), (10, 0), (10, 0)]


def expected() -> list[dict[str, Any]]:
    def rec(k: int, state: str, value: float) -> dict[str, Any]:
        since = iso_s(W0 + W)  # window 1: the first breaching window
        return {
            "schema": "sqm.alerts.v1", "alert_id": f"phone/service_level/{since}",
            "channel": "phone", "indicator": "service_level", "severity": "critical",
            "state": state, "value": value, "threshold": 0.6, "op": "<",
            "window_start": iso_s(W0 + k * W), "window_end": iso_s(W0 + (k + 1) * W),
            "since": since,
            "summary": ("phone service_level 0.5 < 0.6 (critical)" if state == "firing"
                        else "phone service_level back to 1: resolved (critical)"),
        }
    # critical twice in a row fires (window 2); clear twice in a row resolves (window 5)
    return [rec(2, "firing", 0.5), rec(5, "resolved", 1.0)]


def run(restart_after: int | None) -> Pipeline:
    pipe = Pipeline()
    for k, (good, bad) in enumerate(PLAN):
        pipe.send(*window_events(k, good, bad))
        if k == restart_after:
            pipe.restart_aggregator()
    pipe.flush_through(W0 + (len(PLAN) - 1) * W)
    return pipe


def test_a_degraded_channel_fires_and_resolves_once() -> None:
    pipe = run(None)
    assert pipe.alerts == expected()
    levels = [r["service_level"] for c, r in pipe.records if c == "phone"]
    assert levels == [1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0]


def test_a_restart_neither_repeats_a_firing_nor_loses_a_resolution() -> None:
    for restart_after in range(len(PLAN)):
        pipe = run(restart_after)
        assert pipe.alerts == expected(), f"restart after window {restart_after}"


def test_alert_active_is_one_for_the_firing_severity_and_zero_for_the_others() -> None:
    pipe = Pipeline()
    for k, (good, bad) in enumerate(PLAN[:3]):  # firing critical after window 2
        pipe.send(*window_events(k, good, bad))
    pipe.flush_through(W0 + 2 * W)
    active = pipe.agg.active_alerts()
    assert active[("phone", "", "service_level", "critical")] == 1
    assert active[("phone", "", "service_level", "warning")] == 0
    assert active[("chat", "", "service_level", "critical")] == 0
    assert active[("phone", "", "no_data", "warning")] == 0
    assert ("phone", "", "no_data", "critical") not in active  # no critical threshold configured
    # 7 channels x (4 alerts with both severities + no_data with warning only)
    assert len(active) == 7 * 9
    assert sum(active.values()) == 1
