"""The interaction state machine, observed through the whole pipeline (stage one and stage two).

Every expectation is computed by hand from the SPEC (default config: window 60 s, grace 10 s, phone
targets 20 s / 600 s, short abandon 5 s); quantile references come from a sorted list.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from stream_harness import (
    TOPIC,
    WINDOW_MS,
    Pipeline,
    assert_record,
    at,
    ev,
    expected,
    summ,
)

W00, W01, W02 = at("10:00:00"), at("10:01:00"), at("10:02:00")


# --- responsiveness --------------------------------------------------------------------------


def test_first_response_exactly_at_target_and_one_ms_over() -> None:
    pipe = Pipeline()
    pipe.send(ev("x1", "X", "opened", at("10:00:00"), int_ts=True))
    pipe.send(ev("x2", "X", "responded", at("10:00:20"), int_ts=True))  # wait 20 000 ms
    pipe.send(ev("y1", "Y", "opened", at("10:01:10")))
    pipe.send(ev("y2", "Y", "responded", at("10:01:30.001")))  # wait 20 001 ms
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(20_000), backlog_open=1),
        ("phone", W01): dict(opened=1, answered=1, answered_within_target=0, service_level=0.0,
                             abandonment_rate=0.0, first_response_s=summ(20_001), backlog_open=2),
    })
    assert pipe.deadletters == []
    assert pipe.late == Counter()


def test_short_abandon_boundary() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:00")))
    pipe.send(ev("a2", "A", "abandoned", at("10:00:05")))  # wait exactly 5 s: short
    pipe.send(ev("b1", "B", "opened", at("10:00:10")))
    pipe.send(ev("b2", "B", "abandoned", at("10:00:15.001")))  # 5.001 s: abandoned
    pipe.send(ev("c1", "C", "opened", at("10:00:20")))
    pipe.send(ev("c2", "C", "responded", at("10:00:30")))  # 10 s, within 20 s
    pipe.send(ev("d1", "D", "opened", at("10:00:00"), channel="email"))
    pipe.send(ev("d2", "D", "abandoned", at("10:00:02"), channel="email"))  # only a short abandon
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        # abandoned contacts are not closed (closings are resolved/failed): still in backlog_open
        ("phone", W00): dict(opened=3, answered=1, answered_within_target=1, abandoned=1,
                             short_abandoned=1, service_level=0.5, abandonment_rate=0.5,
                             first_response_s=summ(10_000), backlog_open=3),
        # short abandons are excluded from both ratios: denominator 0 -> null
        ("email", W00): dict(opened=1, short_abandoned=1, backlog_open=1),
    })
    assert pipe.deadletters == []


# --- reliability -----------------------------------------------------------------------------


def test_resolved_and_failed_without_any_response() -> None:
    pipe = Pipeline()
    pipe.send(ev("s1", "S", "opened", at("10:00:00")))
    pipe.send(ev("f1", "F", "opened", at("10:00:10")))
    pipe.send(ev("s2", "S", "resolved", at("10:00:30")))  # self-service, 30 s
    pipe.send(ev("f2", "F", "failed", at("10:00:40")))
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=2, resolved=1, failed=1, resolution_rate=0.5,
                             resolved_within_target=1, on_time_resolution_rate=1.0,
                             resolution_s=summ(30_000), reopen_rate=0.0),
    })
    assert pipe.deadletters == []


def test_resolution_target_boundary_and_backlog_while_open() -> None:
    pipe = Pipeline()
    pipe.send(ev("p1", "P1", "opened", at("10:00:00")))
    pipe.send(ev("q1", "P2", "opened", at("10:00:00.500")))
    pipe.send(ev("p2", "P1", "resolved", at("10:10:00")))  # exactly 600 s: within target
    pipe.send(ev("q2", "P2", "resolved", at("10:10:00.501")))  # 600.001 s: not within
    w10 = at("10:10:00")
    pipe.flush_through(w10)
    windows = [W00 + k * WINDOW_MS for k in range(11)]
    exp: dict[tuple[str, int], dict[str, Any]] = {
        ("phone", W00): dict(opened=2, backlog_waiting=2, backlog_open=2, oldest_wait_s=60.0),
    }
    for k in range(1, 10):
        exp[("phone", windows[k])] = dict(backlog_waiting=2, backlog_open=2, oldest_wait_s=60.0 * (k + 1))
    exp[("phone", w10)] = dict(resolved=2, resolved_within_target=1, resolution_rate=1.0,
                               on_time_resolution_rate=0.5, resolution_s=summ(600_000, 600_001),
                               reopen_rate=0.0)
    pipe.assert_records(windows, exp)


def test_reopen_within_the_window_then_resolved_again() -> None:
    pipe = Pipeline()
    for value in (
        ev("r1", "R", "opened", at("10:00:00")),
        ev("r2", "R", "responded", at("10:00:05")),
        ev("r3", "R", "resolved", at("10:00:10")),  # 10 s
        ev("r4", "R", "reopened", at("10:00:20")),
        ev("q1", "Q", "opened", at("10:00:30")),
        ev("r5", "R", "resolved", at("10:00:40")),  # 40 s after opened
        ev("q2", "Q", "resolved", at("10:00:50")),  # 20 s
        ev("q3", "Q", "reopened", at("10:01:20")),
        ev("q4", "Q", "failed", at("10:01:40")),
    ):
        pipe.send(value)
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(5_000), resolved=3,
                             resolution_rate=1.0, resolved_within_target=3, on_time_resolution_rate=1.0,
                             resolution_s=summ(10_000, 40_000, 20_000), reopened=1, reopen_rate=1 / 3),
        # reopened with no resolution in the window: reopen_rate null; closed again by failed
        ("phone", W01): dict(reopened=1, failed=1, resolution_rate=0.0),
    })
    assert pipe.events[("phone", "reopened")] == 2
    assert pipe.deadletters == []


def test_reopen_after_the_reopen_window_is_an_invalid_transition() -> None:
    pipe = Pipeline()
    pipe.send(ev("u1", "U", "opened", at("10:00:00")))
    pipe.send(ev("u2", "U", "responded", at("10:00:03")))
    pipe.send(ev("u3", "U", "resolved", at("10:00:10")))
    pipe.send(ev("v1", "V", "opened", at("10:00:05")))
    pipe.send(ev("v2", "V", "resolved", at("10:00:20")))
    pipe.flush_through(W00)
    u_reopen = ev("u4", "U", "reopened", at("10:00:10", day=7))  # exactly 7 days: allowed
    v_reopen = ev("v3", "V", "reopened", at("10:00:20.001", day=7))  # 7 days + 1 ms: too late
    pipe.send(u_reopen, v_reopen)
    w7 = at("10:00:00", day=7)
    pipe.flush_through(w7)
    assert pipe.reasons() == ["invalid_transition"]
    p, key, d = pipe.deadletters[0]
    assert (p, key) == (0, b"V")
    assert d["source"]["offset"] == pipe.offset_of[v_reopen]
    assert d["raw"] == v_reopen.decode()
    assert pipe.events[("phone", "reopened")] == 1
    assert_record(pipe.record("phone", w7), expected("phone", w7, reopened=1, backlog_open=1))
    assert pipe.late == Counter()


def test_later_responses_are_not_first_responses() -> None:
    pipe = Pipeline()
    for value in (
        ev("a1", "A", "opened", at("10:00:00")),
        ev("a2", "A", "responded", at("10:00:10")),
        ev("a3", "A", "responded", at("10:00:30")),
        ev("a4", "A", "resolved", at("10:00:40")),
        ev("a5", "A", "responded", at("10:00:50")),
    ):
        pipe.send(value)
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(10_000), resolved=1,
                             resolved_within_target=1, resolution_rate=1.0, on_time_resolution_rate=1.0,
                             resolution_s=summ(40_000), reopen_rate=0.0),
    })
    assert pipe.events[("phone", "responded")] == 3
    assert pipe.deadletters == []


def test_invalid_transitions_are_dead_lettered() -> None:
    pipe = Pipeline()
    bad = {
        "abandoned after responded": ev("i1c", "I1", "abandoned", at("10:00:08")),
        "resolved twice": ev("i2c", "I2", "resolved", at("10:00:20")),
        "responded after abandoned": ev("i3c", "I3", "responded", at("10:00:35")),
        "second opened": ev("i4b", "I4", "opened", at("10:00:45")),
        "reopened while open": ev("i5b", "I5", "reopened", at("10:00:55")),
    }
    stream = [
        ev("i1a", "I1", "opened", at("10:00:00")),
        ev("i1b", "I1", "responded", at("10:00:05")),
        bad["abandoned after responded"],
        ev("i2a", "I2", "opened", at("10:00:10")),
        ev("i2b", "I2", "resolved", at("10:00:15")),
        bad["resolved twice"],
        ev("i3a", "I3", "opened", at("10:00:20")),
        ev("i3b", "I3", "abandoned", at("10:00:30")),
        bad["responded after abandoned"],
        ev("i4a", "I4", "opened", at("10:00:40")),
        bad["second opened"],
        ev("i5a", "I5", "opened", at("10:00:50")),
        bad["reopened while open"],
    ]
    for value in stream:
        pipe.send(value)
    pipe.flush_through(W00)
    assert pipe.reasons() == ["invalid_transition"] * len(bad)
    by_offset = {d["source"]["offset"]: (key, d) for _, key, d in pipe.deadletters}
    for value in bad.values():
        key, d = by_offset[pipe.offset_of[value]]
        assert d["raw"] == value.decode()
        assert key == json.loads(value)["interaction_id"].encode()
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=5, answered=1, answered_within_target=1, abandoned=1,
                             service_level=0.5, abandonment_rate=0.5, first_response_s=summ(5_000),
                             resolved=1, resolved_within_target=1, resolution_rate=1.0,
                             on_time_resolution_rate=1.0, resolution_s=summ(5_000), reopen_rate=0.0,
                             backlog_waiting=2, backlog_open=4, oldest_wait_s=20.0),
    })
    assert sum(pipe.events.values()) == len(stream) - len(bad)


# --- held events, duplicates, backlog ----------------------------------------------------------


def test_orphan_is_dead_lettered_after_the_orphan_timeout() -> None:
    pipe = Pipeline()
    orphan = ev("x2", "X", "responded", at("10:00:00"))
    pipe.send(orphan)
    pipe.send(ev("y1", "Y", "opened", at("10:00:05")))
    pipe.send(ev("z1", "Z", "opened", at("10:58:20")))  # 3500 s of watermark later: still held
    assert pipe.deadletters == []
    pipe.send(ev("w1", "W", "opened", at("11:00:11")))  # 3611 s later: past 3600 s + grace
    assert pipe.reasons() == ["orphan"]
    p, key, d = pipe.deadletters[0]
    assert (p, key) == (0, b"X")
    assert d["source"] == {"topic": TOPIC, "partition": 0, "offset": pipe.offset_of[orphan]}
    assert d["raw"] == orphan.decode()
    assert pipe.events[("phone", "responded")] == 0
    assert all(r["answered"] == 0 for _, r in pipe.records)
    # accounting, once everything is applied: 4 consumed = 3 accepted + 1 dead-lettered
    pipe.flush_through(at("11:00:00"))
    assert sum(pipe.events.values()) == 3
    assert len(pipe.deadletters) == 1


def test_held_events_are_applied_when_a_late_opened_arrives() -> None:
    pipe = Pipeline()
    pipe.send(ev("y1", "Y", "opened", at("10:00:00")))
    pipe.send(ev("x2", "X", "responded", at("10:00:30")))  # no opened yet: held
    pipe.send(ev("z1", "Z", "opened", at("10:02:00")))  # window 10:00 becomes final
    before = pipe.record("phone", W00)
    assert_record(before, expected("phone", W00, opened=1, backlog_waiting=1, backlog_open=1,
                                   oldest_wait_s=60.0))
    pipe.send(ev("x1", "X", "opened", at("10:00:10")))  # late: window 10:00 is final
    assert pipe.late == Counter({"phone": 2})  # its opened and its answer (20 s wait)
    pipe.flush_through(W01)
    assert pipe.deadletters == []
    assert pipe.events[("phone", "responded")] == 1
    assert pipe.events[("phone", "opened")] == 3
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=60.0),
        # X is open (answered) and Y still waits; Z opened at 10:02:00, after this window
        ("phone", W01): dict(backlog_waiting=1, backlog_open=2, oldest_wait_s=120.0),
    })


def test_duplicates_count_once() -> None:
    pipe = Pipeline()
    a1 = ev("a1", "A", "opened", at("10:00:00"))
    a2 = ev("a2", "A", "responded", at("10:00:10"))
    res = pipe.send(a1, a1)
    assert {(q.channel, q.name): n for q, n in res.duplicate.items()} == {("phone", "main"): 1}
    pipe.send(a2)
    pipe.send(ev("b1", "B", "opened", at("10:00:30")))  # A's events are now applied
    res = pipe.send(a1, a2)
    assert {(q.channel, q.name): n for q, n in res.duplicate.items()} == {("phone", "main"): 2}
    pipe.flush_through(W00)
    assert pipe.duplicate == Counter({"phone": 3})
    assert pipe.events == Counter({("phone", "opened"): 2, ("phone", "responded"): 1})
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(10_000),
                             backlog_waiting=1, backlog_open=2, oldest_wait_s=30.0),
    })
    assert pipe.deadletters == []


def test_backlog_snapshots_at_window_ends() -> None:
    pipe = Pipeline()
    pipe.send(ev("p1", "P", "opened", at("10:00:05")))
    pipe.send(ev("p2", "P", "responded", at("10:02:30")))  # 145 s: over the 20 s target
    pipe.flush_through(W02)
    pipe.assert_records([W00, W01, W02], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
        ("phone", W02): dict(answered=1, answered_within_target=0, service_level=0.0,
                             abandonment_rate=0.0, first_response_s=summ(145_000), backlog_open=1),
    })


def test_backlog_per_channel_and_oldest_of_several() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10"), channel="chat"))
    pipe.send(ev("b1", "B", "opened", at("10:00:20"), channel="chat"))
    pipe.send(ev("c1", "C", "opened", at("10:00:40"), channel="web"))
    pipe.send(ev("a2", "A", "responded", at("10:00:50"), channel="chat"))  # 40 s, within 60 s
    pipe.send(ev("b2", "B", "resolved", at("10:01:30"), channel="chat"))  # self-service, 70 s
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("chat", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                            abandonment_rate=0.0, first_response_s=summ(40_000),
                            backlog_waiting=1, backlog_open=2, oldest_wait_s=40.0),
        ("web", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=20.0),
        ("chat", W01): dict(resolved=1, resolved_within_target=1, resolution_rate=1.0,
                            on_time_resolution_rate=1.0, resolution_s=summ(70_000), reopen_rate=0.0,
                            backlog_open=1),
        ("web", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=80.0),
    })
