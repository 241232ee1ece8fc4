"""The period figures of ``sqm report`` (SPEC 8, with 2, 5 and 7): period sums, targets against
actuals from sums, SLA attainment, error budgets and worst hours, against numbers worked out by
hand from a few windows.

The windows are chosen so that an average of window ratios differs from the period's sums ratio:
phone's service level is 50/115 over the period, while its windows' ratios average 0.5.
"""

from __future__ import annotations

import math

import pytest
from stream_harness import WINDOW_MS, final_window

from monitor.domain.alerts import Rule
from monitor.domain.report.attainment import (
    Attainment,
    Budget,
    Counts,
    Hour,
    Slo,
    Target,
    attainment,
    counts_of,
    distinct,
    error_budget,
    period_sums,
    queue_attainment,
    queue_sums,
    queue_targets,
    targets,
    worst_hours,
)
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.params import ChannelParams

HOUR = 3_600_000
T0 = 472_222 * HOUR  # 2023-11-14T22:00:00Z, an epoch-aligned hour


def win(channel: str, start: int, answered: int = 0, awt: int = 0, abandoned: int = 0,
        resolved: int = 0, rwt: int = 0, failed: int = 0, **extra: object) -> Indicators:
    """A final window with its ratios as SPEC 2 defines them (null when the denominator is 0)."""
    offered = answered + abandoned
    return final_window(
        channel, start, answered=answered, answered_within_target=awt, abandoned=abandoned,
        service_level=awt / offered if offered else None,
        abandonment_rate=abandoned / offered if offered else None,
        resolved=resolved, resolved_within_target=rwt, failed=failed,
        resolution_rate=resolved / (resolved + failed) if resolved + failed else None,
        on_time_resolution_rate=rwt / resolved if resolved else None, **extra)


# phone, hour T0: window ratios 0.9 and 0.4; hour T0+1h: 0.2 on 5 contacts, then an empty window.
P1 = win("phone", T0, 9, 9, 1, resolved=10, rwt=8, reopened=1, reopen_rate=0.1, opened=12,
         short_abandoned=2, csat_responses=2, csat_mean=4.5, nps_responses=4, nps=50.0)
P2 = win("phone", T0 + WINDOW_MS, 80, 40, 20, resolved=40, rwt=30, failed=10, opened=100,
         csat_responses=8, csat_mean=3.0, nps_responses=6, nps=-50.0)
P3 = win("phone", T0 + HOUR, 4, 1, 1, opened=6, short_abandoned=1)
P4 = win("phone", T0 + HOUR + WINDOW_MS)
# chat: 0.5 in hour T0 (20 contacts) and in hour T0+2h (10 contacts)
C1 = win("chat", T0, 20, 10, 0, opened=20)
C2 = win("chat", T0 + 2 * HOUR, 10, 5, 0, opened=10)
WINDOWS = [P1, P2, P3, P4, C1, C2]

PHONE = Counts(opened=118, answered=93, answered_within_target=50, abandoned=22, short_abandoned=3,
               resolved=50, resolved_within_target=38, failed=10, reopened=1, csat_responses=10,
               csat_sum=33, nps_responses=10, nps_net=-1)
CHAT = Counts(opened=30, answered=30, answered_within_target=15)

SL = Rule("service_level", "<", 0.8, 0.6)
ABANDON = Rule("abandonment_rate", ">", 0.10, 0.20)
RESOLUTION = Rule("resolution_rate", "<", 0.90, 0.80)
CSAT = Rule("csat_mean", "<", 4.0, 3.0, min_volume=1)
NPS = Rule("nps", "<", None, 0.0, min_volume=1)
OLDEST = Rule("oldest_wait_s", ">", 120.0, 240.0)
NO_DATA = Rule("no_data", ">", 0.0, None, for_windows=10)
PARAMS = {"phone": ChannelParams(20_000, 86_400_000, 5_000),
          "chat": ChannelParams(60_000, 3_600_000, 5_000),
          "email": ChannelParams(3_600_000, 172_800_000, 0)}


def test_counts_of_recovers_survey_sums_from_means() -> None:
    c = counts_of(P2)
    assert (c.csat_sum, c.csat_responses) == (24, 8)
    assert (c.nps_net, c.nps_responses) == (-3, 6)  # 100 * (-3) / 6 = -50
    assert counts_of(P4) == Counts()


def test_period_sums_per_channel_and_a_repeated_window_counts_once() -> None:
    assert period_sums(WINDOWS) == {"chat": CHAT, "phone": PHONE}
    assert period_sums([*WINDOWS, P2, C1]) == {"chat": CHAT, "phone": PHONE}
    assert period_sums([]) == {}


def test_targets_come_from_the_period_sums_not_an_average_of_window_ratios() -> None:
    rules = {"phone": (SL, ABANDON, RESOLUTION, CSAT, NPS, OLDEST, NO_DATA)}
    slos = [Slo("answered_in_time", "service_level", "phone", 0.8)]
    rows = targets(period_sums(WINDOWS), {"phone": PARAMS["phone"]}, rules, slos)
    assert rows == [
        # window ratios 0.9, 0.4, 0.2 average 0.5; the period is 50 / 115
        Target("phone", "time", "first_response", "service_level", None, 20.0, "<=",
               50 / 115, None, 115),
        Target("phone", "time", "resolution", "on_time_resolution_rate", None, 86_400.0, "<=",
               38 / 50, None, 50),
        Target("phone", "slo", "answered_in_time", "service_level", 0.8, None, ">=", 50 / 115,
               False, 115),
        Target("phone", "threshold", "service_level", "service_level", 0.8, None, "<", 50 / 115,
               False, 115),
        Target("phone", "threshold", "abandonment_rate", "abandonment_rate", 0.10, None, ">",
               22 / 115, False, 115),
        # window ratios 1.0 and 0.8 average 0.9, which would meet "< 0.9"; the period is 50 / 60
        Target("phone", "threshold", "resolution_rate", "resolution_rate", 0.90, None, "<",
               50 / 60, False, 60),
        # means 4.5 (2 answers) and 3.0 (8) average 3.75; the period is 33 / 10
        Target("phone", "threshold", "csat_mean", "csat_mean", 4.0, None, "<", 3.3, False, 10),
        # NPS 50 (4 answers) and -50 (6) average 0; the period is 100 * (2 - 3) / 10; no warning:
        # judged against the critical threshold
        Target("phone", "threshold", "nps", "nps", 0.0, None, "<", -10.0, False, 10),
    ]


def test_targets_without_traffic_have_no_actual_and_are_not_judged() -> None:
    rows = targets(period_sums(WINDOWS), PARAMS, {"email": (SL,)},
                   [Slo("resolved", "resolution", "email", 0.95)])
    email = [r for r in rows if r.channel == "email"]
    assert [(r.what, r.actual, r.met, r.volume) for r in email] == [
        ("first_response", None, None, 0), ("resolution", None, None, 0),
        ("resolved", None, None, 0), ("service_level", None, None, 0)]
    assert [r.channel for r in rows] == ["phone"] * 2 + ["chat"] * 2 + ["email"] * 4
    chat = rows[2]
    assert (chat.what, chat.limit_s, chat.actual, chat.volume) == ("first_response", 60.0, 0.5, 30)


def test_a_met_target_and_a_met_greater_than_rule() -> None:
    rows = targets({"chat": CHAT}, {}, {"chat": (Rule("service_level", "<", 0.5, None),
                                                 Rule("abandonment_rate", ">", 0.0, None))},
                   [Slo("half", "service_level", "chat", 0.5)])
    # exactly at the threshold is not a breach; 0 abandoned is not > 0
    assert [(r.what, r.actual, r.met) for r in rows] == [
        ("half", 0.5, True), ("service_level", 0.5, True), ("abandonment_rate", 0.0, True)]


def test_attainment_counts_windows_as_the_stream_does() -> None:
    rules = {"phone": (SL, ABANDON, OLDEST, NO_DATA), "chat": (Rule("service_level", "<", 0.5, 0.4),)}
    assert attainment(WINDOWS, rules) == [
        # P1 (0.9 on 10) meets, P2 (0.4 on 100) breaches; P3 (5 < min_volume 10) and the null
        # P4 are not counted
        Attainment("phone", "service_level", "warning", 0.8, "<", 2, 1, 2, 0.5, 110),
        # P1: 0.1 is not > 0.1; P2: 0.2 breaches
        Attainment("phone", "abandonment_rate", "warning", 0.10, ">", 2, 1, 2, 0.5, 110),
        # no volume guard: every window counts (0 s when nobody waits); no_data is left out
        Attainment("phone", "oldest_wait_s", "warning", 120.0, ">", 4, 4, 0, 1.0, None),
        Attainment("chat", "service_level", "warning", 0.5, "<", 2, 2, 0, 1.0, 30),
    ]


def test_attainment_without_counted_windows_and_with_only_a_critical_threshold() -> None:
    rules = {"phone": (Rule("resolution_rate", "<", None, 0.85, min_volume=20),),
             "email": (SL,)}
    assert attainment(WINDOWS, rules) == [
        # P1 has 10 closings (< 20); P2: 0.8 < 0.85 breaches the critical
        Attainment("phone", "resolution_rate", "critical", 0.85, "<", 1, 0, 3, 0.0, 50),
        Attainment("email", "service_level", "warning", 0.8, "<", 0, 0, 0, None, 0),
    ]


def test_error_budget_spent_can_exceed_the_whole_budget() -> None:
    slos = [Slo("answered_in_time", "service_level", "phone", 0.8),
            Slo("on_time", "on_time_resolution", "phone", 0.5),
            Slo("answered_in_time", "service_level", "email", 0.8)]
    got = error_budget(period_sums(WINDOWS), slos)
    # 65 answered late or abandoned of 115, where 0.2 x 115 = 23 were allowed: 2.83 budgets
    b = got[0]
    assert (b.slo, b.channel, b.indicator, b.objective) == ("answered_in_time", "phone",
                                                             "service_level", 0.8)
    assert (b.good, b.total, b.bad) == (50, 115, 65)
    assert b.allowed_bad == pytest.approx(23.0)
    assert b.spent is not None and b.spent > 1
    assert b.spent == pytest.approx(65 / 23)
    # 12 late of 50: the budget allows 25
    assert got[1] == Budget("on_time", "phone", "on_time_resolution", 0.5, 38, 50, 12, 25.0, 0.48)
    assert got[2] == Budget("answered_in_time", "email", "service_level", 0.8, 0, 0, 0, 0.0, None)


def test_error_budget_of_the_resolution_slo() -> None:
    (b,) = error_budget(period_sums(WINDOWS), [Slo("closed", "resolution", "phone", 0.9)])
    assert (b.good, b.total, b.bad) == (50, 60, 10)
    assert b.spent == pytest.approx(10 / 6)


def test_worst_hours_overall_lowest_first() -> None:
    # T0: (9 + 40 + 10) / (10 + 100 + 20); T0+1h: 1 / 5; T0+2h: 5 / 10
    assert worst_hours(WINDOWS, top=2) == [
        Hour(None, T0 + HOUR, 0.2, 1, 5), Hour(None, T0, 59 / 130, 59, 130)]
    assert worst_hours(WINDOWS, top=5, min_volume=10) == [
        Hour(None, T0, 59 / 130, 59, 130), Hour(None, T0 + 2 * HOUR, 0.5, 5, 10)]


def test_worst_hours_per_channel_ties_by_time() -> None:
    assert worst_hours(list(reversed(WINDOWS)), top=3, channel="chat") == [
        Hour("chat", T0, 0.5, 10, 20), Hour("chat", T0 + 2 * HOUR, 0.5, 5, 10)]
    # phone's hours: T0 at 49 / 110, T0+1h at 1 / 5 (its empty window adds nothing)
    assert worst_hours(WINDOWS, top=1, channel="phone") == [Hour("phone", T0 + HOUR, 0.2, 1, 5)]
    assert worst_hours(WINDOWS, top=3, channel="email") == []


def test_a_window_belongs_to_the_hour_of_its_start() -> None:
    late = win("chat", T0 + HOUR - WINDOW_MS, 4, 0, 0)
    rows = worst_hours([late, C1], top=2, channel="chat")
    assert rows == [Hour("chat", T0, 10 / 24, 10, 24)]
    assert math.isclose(rows[0].service_level, 0.4166666, rel_tol=1e-6)


def test_attainment_never_counts_a_null_value() -> None:
    # without a volume guard, P4 (nobody offered: service level null) still does not count
    rules = {"phone": (Rule("service_level", "<", 0.8, None, min_volume=0),)}
    assert attainment(WINDOWS, rules) == [
        Attainment("phone", "service_level", "warning", 0.8, "<", 3, 1, 1, 1 / 3, 115)]


# --- queues (SPEC 9): the same figures per queue, with each queue's own targets -------------

W = WINDOW_MS


def qwin(queue: str, start: int, answered: int = 0, awt: int = 0, abandoned: int = 0,
         **extra: object) -> Indicators:
    """A chat queue's final window (its ratios as SPEC 2 defines them)."""
    return win("chat", start, answered, awt, abandoned, 0, 0, 0, queue=queue, **extra)


# billing (first response within 10 s): SL 4/4, then 2/6 with 1 abandoned, then 0/1;
# oldest wait 15 s, 25 s, nobody waiting.
B0 = qwin("billing", T0, 4, 4, 0, opened=4, oldest_wait_ms=15_000)
B1 = qwin("billing", T0 + W, 5, 2, 1, opened=7, oldest_wait_ms=25_000)
B2 = qwin("billing", T0 + 2 * W, 1, 0, 0, opened=1)
# sales (within 60 s): SL 9/10, then an empty window, then 5/10 with 2 abandoned;
# oldest wait 100 s, nobody, 130 s.
S0 = qwin("sales", T0, 10, 9, 0, opened=10, oldest_wait_ms=100_000)
S1 = qwin("sales", T0 + W)
S2 = qwin("sales", T0 + 2 * W, 8, 5, 2, opened=9, oldest_wait_ms=130_000)
QUEUE_WINDOWS = [B0, B1, B2, S0, S1, S2]
QUEUE_PARAMS = {("chat", "billing"): ChannelParams(10_000, 3_600_000, 5_000),
                ("chat", "sales"): ChannelParams(60_000, 7_200_000, 5_000)}
QSL = Rule("service_level", "<", 0.8, None, min_volume=2)
# "2x" of each queue's first-response target: 20 s for billing, 120 s for sales
QUEUE_RULES = {
    ("chat", "billing"): (QSL, Rule("abandonment_rate", ">", 0.1, None, min_volume=1),
                          Rule("oldest_wait_s", ">", 20.0, 40.0)),
    ("chat", "sales"): (QSL, Rule("oldest_wait_s", ">", 120.0, 240.0), NO_DATA),
}


def test_queue_windows_stay_apart_and_out_of_the_channel_figures() -> None:
    # the same window of two queues and of the channel: three records, none collapsed
    assert distinct([S0, B0, C1, B0]) == [C1, B0, S0]
    mixed = [*WINDOWS, *QUEUE_WINDOWS]
    # a queue's record is already in its channel's: the channel figures ignore it
    assert period_sums(mixed) == {"chat": CHAT, "phone": PHONE}
    assert attainment(mixed, {"chat": (Rule("service_level", "<", 0.5, 0.4),)}) == attainment(
        WINDOWS, {"chat": (Rule("service_level", "<", 0.5, 0.4),)})
    assert worst_hours(mixed, top=5) == worst_hours(WINDOWS, top=5)
    assert worst_hours(mixed, top=5, channel="chat") == worst_hours(WINDOWS, top=5, channel="chat")


def test_queue_sums_per_channel_and_queue() -> None:
    assert queue_sums([*QUEUE_WINDOWS, *WINDOWS, B1]) == {
        ("chat", "billing"): Counts(opened=12, answered=10, answered_within_target=6,
                                    abandoned=1),
        ("chat", "sales"): Counts(opened=19, answered=18, answered_within_target=14,
                                  abandoned=2),
    }


def test_queue_targets_use_each_queues_own_targets() -> None:
    slos = [Slo("answered_in_time", "service_level", "chat", 0.8, "billing"),
            Slo("answered_in_time", "service_level", "chat", 0.8)]  # the channel's: not a queue's
    rows = queue_targets(queue_sums(QUEUE_WINDOWS), QUEUE_PARAMS, QUEUE_RULES, slos)
    assert rows == [
        # billing: 6 of 11 offered within its own 10 s
        Target("chat", "time", "first_response", "service_level", None, 10.0, "<=", 6 / 11,
               None, 11, "billing"),
        Target("chat", "time", "resolution", "on_time_resolution_rate", None, 3600.0, "<=",
               None, None, 0, "billing"),
        Target("chat", "slo", "answered_in_time", "service_level", 0.8, None, ">=", 6 / 11,
               False, 11, "billing"),
        Target("chat", "threshold", "service_level", "service_level", 0.8, None, "<", 6 / 11,
               False, 11, "billing"),
        Target("chat", "threshold", "abandonment_rate", "abandonment_rate", 0.1, None, ">",
               1 / 11, True, 11, "billing"),
        # sales: 14 of 20 within its 60 s; oldest_wait_s and no_data have no period value
        Target("chat", "time", "first_response", "service_level", None, 60.0, "<=", 14 / 20,
               None, 20, "sales"),
        Target("chat", "time", "resolution", "on_time_resolution_rate", None, 7200.0, "<=",
               None, None, 0, "sales"),
        Target("chat", "threshold", "service_level", "service_level", 0.8, None, "<", 14 / 20,
               False, 20, "sales"),
    ]


def test_queue_attainment_judges_each_queues_windows() -> None:
    assert queue_attainment([*QUEUE_WINDOWS, C1, C2], QUEUE_RULES) == [
        # billing: 1.0 on 4 meets, 2/6 on 6 breaches, 0/1 is under min_volume 2
        Attainment("chat", "service_level", "warning", 0.8, "<", 2, 1, 1, 0.5, 10, "billing"),
        # 0/4 meets, 1/6 breaches, 0/1 meets (min_volume 1)
        Attainment("chat", "abandonment_rate", "warning", 0.1, ">", 3, 2, 0, 2 / 3, 11,
                   "billing"),
        # 15 s meets 20 s, 25 s breaches, nobody waiting (0 s) meets
        Attainment("chat", "oldest_wait_s", "warning", 20.0, ">", 3, 2, 0, 2 / 3, None,
                   "billing"),
        # sales: 0.9 on 10 meets, the empty window is not counted, 5/10 breaches
        Attainment("chat", "service_level", "warning", 0.8, "<", 2, 1, 1, 0.5, 20, "sales"),
        # 100 s and 0 s meet 120 s, 130 s breaches; no_data is left out
        Attainment("chat", "oldest_wait_s", "warning", 120.0, ">", 3, 2, 0, 2 / 3, None, "sales"),
    ]


def test_a_queue_without_windows_in_the_range() -> None:
    rules = {("chat", "returns"): (QSL,)}
    assert queue_attainment(QUEUE_WINDOWS, rules) == [
        Attainment("chat", "service_level", "warning", 0.8, "<", 0, 0, 0, None, 0, "returns")]
    rows = queue_targets({}, {("chat", "returns"): QUEUE_PARAMS[("chat", "sales")]}, rules, [])
    assert [(r.what, r.actual, r.met, r.volume, r.queue) for r in rows] == [
        ("first_response", None, None, 0, "returns"), ("resolution", None, None, 0, "returns"),
        ("service_level", None, None, 0, "returns")]
