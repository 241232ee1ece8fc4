"""The threshold alert state machine (SPEC section 5.1), on hand-worked window sequences.

Each expectation is written out by hand: the window index at which the alert fires, escalates,
de-escalates or resolves, with its severity.
"""

from __future__ import annotations

import msgspec
import pytest
from stream_harness import final_window

from monitor.domain.alerts import AlertState, Rule, Transition, evaluate
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.sketch import Summary

W = 60_000
T0 = 1_795_000_000_000 - 1_795_000_000_000 % W
SL = Rule("service_level", "<", warning=0.8, critical=0.6)  # for 2, clear 2, min_volume 10
ABANDON = Rule("abandonment_rate", ">", warning=0.10, critical=0.20)


def window(i: int, channel: str = "phone", **values: object) -> Indicators:
    return final_window(channel, T0 + i * W, **values)


def sl(i: int, level: float | None, volume: int = 20) -> Indicators:
    """A window with this service level over ``volume`` answered contacts."""
    return window(i, service_level=level, answered=volume)


def run(rule: Rule, windows: list[Indicators],
        state: AlertState | None = None) -> list[tuple[int, str, str]]:
    """``(window index, state, severity)`` of every transition."""
    st = AlertState() if state is None else state
    out = []
    for w in windows:
        t = evaluate(rule, st, w)
        if t is not None:
            out.append(((t.window_start_ms - T0) // W, t.state, t.severity))
    return out


def levels(rule: Rule, values: list[float | None]) -> list[tuple[int, str, str]]:
    return run(rule, [sl(i, v) for i, v in enumerate(values)])


def test_exactly_at_the_threshold_does_not_breach() -> None:
    assert levels(SL, [0.8, 0.8, 0.8]) == []
    assert levels(SL, [0.6, 0.6]) == [(1, "firing", "warning")]  # 0.6 is not < 0.6
    assert levels(SL, [0.7999, 0.7999]) == [(1, "firing", "warning")]


def test_for_windows_consecutive_breaches_fire() -> None:
    assert levels(SL, [0.7]) == []
    assert levels(SL, [0.7, 0.9, 0.7, 0.9]) == []  # the run is broken each time
    assert levels(SL, [0.9, 0.7, 0.7]) == [(2, "firing", "warning")]
    three = Rule("service_level", "<", warning=0.8, critical=None, for_windows=3)
    assert levels(three, [0.7, 0.7]) == []
    assert levels(three, [0.7, 0.7, 0.7]) == [(2, "firing", "warning")]


def test_clear_windows_consecutive_healthy_windows_resolve() -> None:
    assert levels(SL, [0.7, 0.7, 0.9]) == [(1, "firing", "warning")]
    assert levels(SL, [0.7, 0.7, 0.9, 0.9]) == [(1, "firing", "warning"), (3, "resolved", "warning")]
    # a breach between healthy windows starts the count again
    assert levels(SL, [0.7, 0.7, 0.9, 0.7, 0.9, 0.9]) == [
        (1, "firing", "warning"), (5, "resolved", "warning")]


def test_low_volume_windows_neither_breach_nor_clear() -> None:
    windows = [sl(0, 0.7), sl(1, 0.1, volume=9), sl(2, 0.7)]
    assert run(SL, windows) == [(2, "firing", "warning")]  # window 1 did not break the run
    firing = [sl(0, 0.7), sl(1, 0.7), sl(2, 1.0, volume=9), sl(3, 1.0, volume=0), sl(4, 0.9)]
    assert run(SL, firing) == [(1, "firing", "warning")]  # nor did windows 2 and 3 clear it
    assert run(SL, [*firing, sl(5, 0.9)]) == [(1, "firing", "warning"), (5, "resolved", "warning")]
    assert run(SL, [sl(0, 0.7, volume=10), sl(1, 0.7, volume=10)]) == [(1, "firing", "warning")]


def test_null_values_leave_the_alert_as_it_is() -> None:
    no_guard = Rule("service_level", "<", warning=0.8, critical=0.6, min_volume=0)
    windows = [sl(0, 0.7), sl(1, None, volume=0), sl(2, 0.7), sl(3, 0.9), sl(4, None, volume=0),
               sl(5, 0.9)]
    assert run(no_guard, windows) == [(2, "firing", "warning"), (5, "resolved", "warning")]


def test_escalation_and_direct_critical() -> None:
    assert levels(SL, [0.7, 0.7, 0.5, 0.5]) == [(1, "firing", "warning"), (3, "firing", "critical")]
    assert levels(SL, [0.5, 0.5]) == [(1, "firing", "critical")]
    # a critical window counts as a warning breach too
    assert levels(SL, [0.7, 0.5]) == [(1, "firing", "warning")]


def test_de_escalation_needs_critical_clear_while_warning_breaches() -> None:
    assert levels(SL, [0.5, 0.5, 0.7, 0.7]) == [(1, "firing", "critical"), (3, "firing", "warning")]
    assert levels(SL, [0.5, 0.5, 0.7, 0.7, 0.9, 0.9]) == [
        (1, "firing", "critical"), (3, "firing", "warning"), (5, "resolved", "warning")]
    # both clear: straight to resolved, no stop at warning
    assert levels(SL, [0.5, 0.5, 0.9, 0.9]) == [(1, "firing", "critical"), (3, "resolved", "critical")]
    # critical clear for two windows, the second of which breaches warning
    assert levels(SL, [0.5, 0.5, 0.9, 0.7]) == [(1, "firing", "critical"), (3, "firing", "warning")]


def test_flapping_neither_fires_nor_resolves() -> None:
    assert levels(SL, [0.7, 0.9] * 5) == []
    assert levels(SL, [0.7, 0.7, *([0.9, 0.7] * 5)]) == [(1, "firing", "warning")]


def test_greater_than_rules() -> None:
    windows = [window(i, abandonment_rate=r, answered=15, abandoned=5)
               for i, r in enumerate([0.10, 0.15, 0.15, 0.25, 0.25, 0.05, 0.05])]
    assert run(ABANDON, windows) == [
        (2, "firing", "warning"), (4, "firing", "critical"), (6, "resolved", "critical")]


def test_records_of_one_episode_share_its_since() -> None:
    st = AlertState()
    out: list[Transition] = []
    for i, v in enumerate([0.9, 0.7, 0.7, 0.5, 0.5, 0.7, 0.7, 0.9, 0.9, 0.7, 0.7]):
        t = evaluate(SL, st, sl(i, v))
        if t is not None:
            out.append(t)
    assert [(t.state, t.severity) for t in out] == [
        ("firing", "warning"), ("firing", "critical"), ("firing", "warning"),
        ("resolved", "warning"), ("firing", "warning")]
    first, second = out[:4], out[4]
    assert {t.since_ms for t in first} == {T0 + 1 * W}  # the first breaching window
    assert second.since_ms == T0 + 9 * W
    assert [t.threshold for t in out] == [0.8, 0.6, 0.8, 0.8, 0.8]
    assert [t.value for t in out] == [0.7, 0.5, 0.7, 0.9, 0.7]
    assert out[0].window_end_ms == T0 + 3 * W and out[0].op == "<"


def test_no_data_after_activity() -> None:
    rule = Rule("no_data", ">", warning=0, critical=None, for_windows=10)
    active = [window(i, opened=3) for i in range(3)]
    quiet = [window(3 + i) for i in range(12)]
    assert run(rule, active + quiet) == [(12, "firing", "warning")]  # the tenth empty window
    back = [window(15, opened=1), window(16, opened=2)]
    assert run(rule, active + quiet + back) == [(12, "firing", "warning"), (16, "resolved", "warning")]
    assert run(rule, quiet) == []  # a channel that never had traffic is not missing any


def test_no_data_forgets_activity_older_than_sixty_windows() -> None:
    rule = Rule("no_data", ">", warning=0, critical=None, for_windows=10, clear_windows=2)
    windows = [window(0, opened=1), *(window(i) for i in range(1, 64))]
    # fires at window 10; windows 61 and 62 are more than 60 windows after the last activity
    assert run(rule, windows) == [(10, "firing", "warning"), (62, "resolved", "warning")]


def test_first_response_p90_and_its_volume() -> None:
    rule = Rule("first_response_p90_s", ">", warning=40.0, critical=80.0, min_volume=5)

    def fr(i: int, p90_ms: float, answered: int = 5) -> Indicators:
        s = Summary(1.0, p90_ms, p90_ms, 1.0, int(p90_ms))
        return window(i, first_response=s, answered=answered)

    assert run(rule, [fr(0, 40_000.0), fr(1, 40_000.4)]) == []  # 40.0 s as recorded: no breach
    assert run(rule, [fr(0, 40_001.0), fr(1, 90_000.0, answered=4), fr(2, 41_000.0)]) == [
        (2, "firing", "warning")]


@pytest.mark.parametrize("cut", range(1, 11))
def test_state_survives_a_snapshot_and_restore(cut: int) -> None:
    values = [0.9, 0.7, 0.7, 0.5, None, 0.5, 0.7, 0.7, 0.9, 0.9, 0.7]
    windows = [sl(i, v, volume=0 if v is None else 20) for i, v in enumerate(values)]
    whole = run(SL, windows)
    st = AlertState()
    before = run(SL, windows[:cut], st)
    restored = msgspec.json.decode(msgspec.json.encode(st), type=AlertState)
    assert before + run(SL, windows[cut:], restored) == whole


# --- customer feedback indicators (SPEC 7.1 in 5.1): volume is the number of answers --------

CSAT = Rule("csat_mean", "<", warning=3.5, critical=3.0)
NPS = Rule("nps", "<", warning=0.0, critical=-20.0, min_volume=5)


def test_csat_mean_fires_on_windows_with_enough_answers_only() -> None:
    windows = [
        window(0, csat_mean=2.5, csat_responses=12),  # breaches critical
        window(1, csat_mean=1.0, csat_responses=9),  # too few answers: leaves it as it is
        window(2, csat_mean=2.9, csat_responses=10),  # second counted breach: critical fires
        window(3, csat_mean=None, csat_responses=0),
        window(4, csat_mean=4.5, csat_responses=30),
        window(5, csat_mean=4.0, csat_responses=30),  # two clear windows: resolved
    ]
    assert run(CSAT, windows) == [(2, "firing", "critical"), (5, "resolved", "critical")]


def test_nps_warning_below_zero_with_its_own_volume_guard() -> None:
    windows = [window(i, nps=-10.0, nps_responses=n) for i, n in enumerate((5, 4, 6))]
    assert run(NPS, windows) == [(2, "firing", "warning")]
