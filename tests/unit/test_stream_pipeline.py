"""The two stages together: ordering, lateness, empty windows, watermarks, idle partitions, restore.

Every expectation is computed by hand from the SPEC (default config: window 60 s, grace 10 s, phone
targets 20 s / 600 s, short abandon 5 s); quantile references come from a sorted list. Where two
runs are compared, each run is its own pipeline: the code under test is never used as the oracle
for hand-computed values.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from stream_harness import (
    CHANNELS,
    NULLS,
    PARAMS,
    TOPIC,
    WALL,
    Pipeline,
    assert_record,
    at,
    deadletter_json,
    ev,
    expected,
    iso_ms,
    iso_s,
    summ,
)

from monitor.domain.stream.watermark import Mark
from monitor.stages.interactions.processor import PartitionProcessor

W00, W01, W02, W03, W04, W05 = (at(f"10:0{k}:00") for k in range(6))

# One small scenario (phone unless noted), in event-time order:
A_OP = ev("a1", "A", "opened", at("10:00:01"), int_ts=True)
A_RS = ev("a2", "A", "responded", at("10:00:06"))  # wait 5 s
A_RV = ev("a3", "A", "resolved", at("10:00:09"), int_ts=True)  # 8 s
B_OP = ev("b1", "B", "opened", at("10:00:30"))
B_AB = ev("b2", "B", "abandoned", at("10:00:37"))  # 7 s: abandoned
C_OP = ev("c1", "C", "opened", at("10:00:50"))
C_RS = ev("c2", "C", "responded", at("10:01:05"))  # 15 s
C_RV = ev("c3", "C", "resolved", at("10:01:12"))  # 22 s
D_OP = ev("d1", "D", "opened", at("10:01:30"), channel="chat")
D_RS = ev("d2", "D", "responded", at("10:01:35"), channel="chat")  # 5 s
E_OP = ev("e1", "E", "opened", at("10:02:40"))
IN_ORDER = [A_OP, A_RS, A_RV, B_OP, B_AB, C_OP, C_RS, C_RV, D_OP, D_RS, E_OP]
SCENARIO_WINDOWS = [W00, W01, W02]
SCENARIO_EXPECTED: dict[tuple[str, int], dict[str, Any]] = {
    ("phone", W00): dict(opened=3, answered=1, answered_within_target=1, abandoned=1, service_level=0.5,
                         abandonment_rate=0.5, first_response_s=summ(5_000), resolved=1,
                         resolved_within_target=1, resolution_rate=1.0, on_time_resolution_rate=1.0,
                         resolution_s=summ(8_000), reopen_rate=0.0,
                         # B abandoned (not closed), C waiting since 10:00:50
                         backlog_waiting=1, backlog_open=2, oldest_wait_s=10.0),
    ("phone", W01): dict(answered=1, answered_within_target=1, service_level=1.0, abandonment_rate=0.0,
                         first_response_s=summ(15_000), resolved=1, resolved_within_target=1,
                         resolution_rate=1.0, on_time_resolution_rate=1.0, resolution_s=summ(22_000),
                         reopen_rate=0.0, backlog_open=1),
    ("chat", W01): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                        abandonment_rate=0.0, first_response_s=summ(5_000), backlog_open=1),
    ("phone", W02): dict(opened=1, backlog_waiting=1, backlog_open=2, oldest_wait_s=20.0),
    ("chat", W02): dict(backlog_open=1),
}


def run_in_order() -> Pipeline:
    pipe = Pipeline()
    for value in IN_ORDER:
        pipe.send(value)
    pipe.flush_through(W02)
    return pipe


# --- ordering and workers ----------------------------------------------------------------------


def test_in_order_scenario_matches_hand_computed_records() -> None:
    pipe = run_in_order()
    pipe.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert pipe.deadletters == []
    assert pipe.late == Counter()


def test_out_of_order_within_grace_gives_the_same_records() -> None:
    pipe = Pipeline()
    # resolved before responded before opened; every event still arrives within the grace
    for batch in (
        [A_RV, A_RS],
        [A_OP],
        [B_AB],
        [B_OP],
        [C_OP],
        [C_RV],
        [C_RS],
        [D_RS, D_OP],
        [E_OP],
    ):
        pipe.send(*batch)
    pipe.flush_through(W02)
    pipe.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert pipe.records == run_in_order().records
    assert pipe.deadletters == []
    assert pipe.late == Counter()


def test_one_batch_gives_the_same_records() -> None:
    pipe = Pipeline()
    pipe.send(*reversed(IN_ORDER[:-1]))  # within one batch nothing is released before all arrived
    pipe.send(E_OP)
    pipe.flush_through(W02)
    pipe.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert pipe.records == run_in_order().records


def test_two_input_partitions_give_the_same_records_as_one() -> None:
    pipe = Pipeline(partitions=2)
    for value in IN_ORDER:
        p = 1 if json.loads(value)["interaction_id"] in ("D", "E") else 0
        pipe.send(value, p=p)
    pipe.flush_through(W02)
    pipe.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert pipe.records == run_in_order().records


# --- lateness ------------------------------------------------------------------------------------


def test_late_event_is_counted_and_its_window_is_not_reemitted() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10")))
    pipe.send(ev("b1", "B", "opened", at("10:01:30")))  # watermark 10:01:30 > 10:01:00 + 10 s
    first = expected("phone", W00, opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=50.0)
    assert_record(pipe.record("phone", W00), first)
    emitted = len(pipe.records)
    assert emitted == len(CHANNELS)
    # two events of the final window 10:00 arrive: counted late, their state still applies
    res = pipe.send(ev("c1", "C", "opened", at("10:00:40")), ev("a2", "A", "responded", at("10:00:50")))
    assert pipe.late == Counter({"phone": 2})
    assert len(pipe.records) == emitted  # nothing re-emitted
    assert {(q.channel, q.name, t): n for (q, t), n in res.events.items()} == {
        ("phone", "main", "opened"): 1, ("phone", "main", "responded"): 1}
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=50.0),
        # B and C wait (C since 10:00:40); A was answered by the late response
        ("phone", W01): dict(opened=1, backlog_waiting=2, backlog_open=3, oldest_wait_s=80.0),
    })
    assert pipe.late == Counter({"phone": 2})


def test_event_within_the_grace_after_the_window_end_is_not_late() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10")))
    pipe.send(ev("b1", "B", "opened", at("10:01:09.999")))  # watermark not past 10:01:10
    assert pipe.records == []
    pipe.send(ev("c1", "C", "opened", at("10:00:59.999")))
    pipe.flush_through(W01)
    assert pipe.late == Counter()
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=2, backlog_waiting=2, backlog_open=2, oldest_wait_s=50.0),
        ("phone", W01): dict(opened=1, backlog_waiting=3, backlog_open=3, oldest_wait_s=110.0),
    })



def test_window_is_final_only_when_the_watermark_passes_end_plus_grace() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10")))
    pipe.send(ev("b1", "B", "opened", at("10:01:10")))  # watermark exactly 10:01:00 + 10 s
    assert pipe.records == []
    pipe.send(ev("c1", "C", "opened", at("10:01:10.001")))  # passes it
    assert [(c, r["window_start"]) for c, r in pipe.records] == [(c, iso_s(W00)) for c in CHANNELS]
    assert_record(pipe.record("phone", W00), expected("phone", W00, opened=1, backlog_waiting=1,
                                                      backlog_open=1, oldest_wait_s=50.0))

# --- empty windows --------------------------------------------------------------------------------


def test_empty_windows_between_events() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10")))
    pipe.send(ev("a2", "A", "resolved", at("10:00:20")))
    pipe.send(ev("b1", "B", "opened", at("10:04:10")))
    pipe.send(ev("b2", "B", "resolved", at("10:04:15")))
    pipe.flush_through(W04)
    closed = dict(opened=1, resolved=1, resolved_within_target=1, resolution_rate=1.0,
                  on_time_resolution_rate=1.0, reopen_rate=0.0)
    pipe.assert_records([W00, W01, W02, W03, W04], {
        ("phone", W00): dict(closed, resolution_s=summ(10_000)),
        ("phone", W04): dict(closed, resolution_s=summ(5_000)),
    })
    # in emission order: window by window, every configured channel each time
    assert [(c, r["window_start"]) for c, r in pipe.records] == [
        (c, iso_s(w)) for w in (W00, W01, W02, W03, W04) for c in CHANNELS
    ]
    empty = pipe.record("phone", W02)
    assert empty["service_level"] is None
    assert empty["first_response_s"] == dict(NULLS)
    assert empty["resolution_s"] == dict(NULLS)


# --- watermarks across input partitions -------------------------------------------------------------


def test_idle_partition_does_not_stall_results() -> None:
    pipe = Pipeline(partitions=2)
    pipe.send(ev("a1", "A", "opened", at("10:00:05")), p=0)
    pipe.send(ev("b1", "B", "opened", at("10:00:20"), channel="chat"), p=1)
    pipe.send(ev("c1", "C", "opened", at("10:03:00")), p=0)
    # partition 1 gets nothing more: its watermark stays 10:00:20 without idleness
    pipe.advance(at("10:10:00"), idle=False, p=1)
    pipe.advance(at("10:10:00"), idle=False, p=0)
    assert pipe.records == []
    # idle at 10:03:05: partition 1 counts as max(10:00:20, 10:03:05 - 10 s) = 10:02:55
    pipe.advance(at("10:03:05"), idle=True, p=1)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("chat", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=40.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
        ("chat", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=100.0),
    })
    assert pipe.late == Counter()


def test_global_watermark_waits_until_every_partition_reported() -> None:
    pipe = Pipeline(partitions=2)
    pipe.send(ev("a1", "A", "opened", at("10:00:05")), p=0)
    pipe.send(ev("c1", "C", "opened", at("10:03:00")), p=0)
    assert pipe.records == []  # partition 1 has not reported a mark yet
    res = pipe.advance(at("10:03:05"), idle=False, p=1)
    assert res.mark is None  # not idle, no event: nothing to report
    assert pipe.records == []
    res = pipe.advance(at("10:03:05"), idle=True, p=1)
    # caught up and never saw an event; partition 0 is live (its watermark is within grace +
    # idle timeout of the clock), so partition 1 is excluded from the minimum
    assert res.mark == Mark(1, None, None, True)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
    })


def test_an_empty_partition_holds_the_watermark_during_a_backfill() -> None:
    """History (event times a month before the clock) reaches partition 0 while partition 1 is
    empty and idle: partition 1 may still receive history, so nothing is final until partition
    0 is drained too; then every window is emitted and nothing is late."""
    pipe = Pipeline(partitions=2)
    pipe.advance(WALL, idle=True, p=1)  # empty and idle before the backfill starts
    pipe.send(ev("a1", "A", "opened", at("10:00:05")), ev("c1", "C", "opened", at("10:03:00")), p=0)
    assert pipe.records == []  # partition 0 is busy with history: partition 1 holds
    pipe.send(ev("b1", "B", "opened", at("10:01:30")), p=1)  # the other half of the history
    pipe.advance(WALL, idle=True, p=0)
    pipe.advance(WALL, idle=True, p=1)
    assert pipe.late == Counter()
    by_window = {r["window_start"]: r for c, r in pipe.records if c == "phone"}
    assert [by_window[iso_s(w)]["opened"] for w in (W00, W01, W02, W03)] == [1, 1, 0, 1]


def test_first_window_counts_events_of_a_partition_that_has_not_applied_any_yet() -> None:
    """Partition 1 has delivered an event at 10:00:05 (watermark 10:00:05) but still buffers it
    when partition 0's first applied event is at 10:02:00. The global watermark is 10:00:05, so
    window 10:00 is not final and the event must count there, not as late."""
    pipe = Pipeline(partitions=2)
    pipe.send(ev("a1", "A", "opened", at("10:02:00")), ev("b1", "B", "opened", at("10:05:00")), p=0)
    pipe.send(ev("c1", "C", "opened", at("10:00:05")), p=1)
    pipe.send(ev("d1", "D", "opened", at("10:06:40")), p=1)
    pipe.flush_through(W05)
    phone_windows = [r["window_start"] for c, r in pipe.records if c == "phone"]
    assert phone_windows[:2] == [iso_s(W00), iso_s(W01)], f"first windows emitted: {phone_windows[:2]}"
    assert pipe.late == Counter()
    pipe.assert_records([W00, W01, W02, W03, W04, W05], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
        ("phone", W02): dict(opened=1, backlog_waiting=2, backlog_open=2, oldest_wait_s=175.0),
        ("phone", W03): dict(backlog_waiting=2, backlog_open=2, oldest_wait_s=235.0),
        ("phone", W04): dict(backlog_waiting=2, backlog_open=2, oldest_wait_s=295.0),
        ("phone", W05): dict(opened=1, backlog_waiting=3, backlog_open=3, oldest_wait_s=355.0),
    })


# --- restore from the changelog ----------------------------------------------------------------------

RESTORE_STREAM = [
    A_OP, A_RS, A_RV, B_OP, B_AB, A_OP,  # a duplicate of A's opened
    C_OP, ev("b3", "B", "responded", at("10:00:55")),  # invalid: responded after abandoned
    C_RS, C_RV, D_OP, D_RS, A_RS, E_OP,  # another duplicate
]


def run_restore_stream(restart_at: int | None, restart: str = "partition") -> Pipeline:
    pipe = Pipeline()
    for i, value in enumerate(RESTORE_STREAM):
        if i == restart_at:
            if restart == "partition":
                pipe.restart_partition(0)
            else:
                pipe.restart_aggregator()
        pipe.send(value)
    pipe.flush_through(W02)
    return pipe


def summary_of(pipe: Pipeline) -> tuple[
        list[tuple[str, dict[str, Any]]], Counter[str], Counter[str], list[tuple[str, int]]]:
    return (
        pipe.records,
        pipe.late,
        pipe.duplicate,
        sorted((d["reason"], d["source"]["offset"]) for _, _, d in pipe.deadletters),
    )


def test_restore_stream_reference() -> None:
    pipe = run_restore_stream(None)
    pipe.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert pipe.duplicate == Counter({"phone": 2})
    assert pipe.reasons() == ["invalid_transition"]
    assert pipe.deadletters[0][2]["source"]["offset"] == 7


@pytest.mark.parametrize("restart_at", [2, 4, 7, 10, 13])
def test_partition_processor_restore_gives_the_same_records(restart_at: int) -> None:
    restarted = run_restore_stream(restart_at, "partition")
    restarted.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert summary_of(restarted) == summary_of(run_restore_stream(None))


def test_partition_processor_restore_after_an_idle_advance() -> None:
    def run(restart: bool) -> Pipeline:
        pipe = Pipeline()
        pipe.send(ev("a1", "A", "opened", at("10:00:05")))
        pipe.advance(at("10:00:40"), idle=True)  # watermark 10:00:30: A's opened is applied
        if restart:
            pipe.restart_partition(0)
        pipe.send(ev("b1", "B", "opened", at("10:01:30")))
        pipe.flush_through(W01)
        return pipe

    restarted = run(True)
    restarted.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(opened=1, backlog_waiting=2, backlog_open=2, oldest_wait_s=115.0),
    })
    assert summary_of(restarted) == summary_of(run(False))


def test_restore_keeps_held_events_and_deduplication() -> None:
    pipe = Pipeline()
    held = ev("x2", "X", "responded", at("10:00:30"))
    pipe.send(ev("y1", "Y", "opened", at("10:00:00")))
    pipe.send(held)
    pipe.restart_partition(0)
    pipe.send(held)  # a duplicate, also after the restart
    pipe.send(ev("x1", "X", "opened", at("10:00:10")))
    pipe.flush_through(W00)
    assert pipe.duplicate == Counter({"phone": 1})
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(20_000),
                             backlog_waiting=1, backlog_open=2, oldest_wait_s=60.0),
    })



def test_restore_keeps_the_channel_of_buffered_events() -> None:
    """An interaction belongs to the channel it was opened on. Here its first-arriving event says
    ``phone`` and its ``opened`` (arriving second, still buffered) says ``chat``: a restart while
    both are buffered must not move the contact to another channel."""

    def run(restart: bool) -> Pipeline:
        pipe = Pipeline()
        pipe.send(ev("x2", "X", "responded", at("10:00:06"), channel="phone"))
        pipe.send(ev("x1", "X", "opened", at("10:00:01"), channel="chat"))
        if restart:
            pipe.restart_partition(0)
        pipe.send(ev("y1", "Y", "opened", at("10:01:30"), channel="web"))
        pipe.flush_through(W01)
        return pipe

    exp: dict[tuple[str, int], dict[str, Any]] = {
        ("chat", W00): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                            abandonment_rate=0.0, first_response_s=summ(5_000), backlog_open=1),
        ("chat", W01): dict(backlog_open=1),
        ("web", W01): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=30.0),
    }
    run(False).assert_records([W00, W01], exp)
    run(True).assert_records([W00, W01], exp)


def test_closed_interaction_is_dropped_after_the_reopen_window_even_with_a_rejected_event_buffered() -> None:
    """After ``reopen_window_s`` a closed interaction's state is deleted (tombstone in the
    changelog). A too-late ``reopened`` that is still buffered when the purge time passes must
    not keep the state (and its changelog record) alive forever."""

    def run(late_reopen: bool) -> tuple[list[str], PartitionProcessor, list[tuple[bytes, bytes | None]]]:
        proc = PartitionProcessor(PARAMS, TOPIC, 0)  # stage one only: no week of window records
        values = [ev("v1", "V", "opened", at("10:00:00")), ev("v2", "V", "resolved", at("10:00:20"))]
        if late_reopen:
            values.append(ev("v3", "V", "reopened", at("10:01:00", day=7)))  # 7 days + 40 s: invalid
        values.append(ev("z1", "Z", "opened", at("10:02:00", day=7)))
        results = [proc.process([(i, b"V", v)], WALL) for i, v in enumerate(values)]
        results.append(proc.advance(at("10:10:00", day=8), idle=True))
        reasons = [deadletter_json(d, 0)["reason"] for r in results for d in r.deadletters]
        changelog = [entry for r in results for entry in r.changelog]
        return reasons, proc, changelog

    for late_reopen in (False, True):
        reasons, proc, changelog = run(late_reopen)
        assert reasons == (["invalid_transition"] if late_reopen else [])
        assert "V" not in proc.states, f"late_reopen={late_reopen}: V's state was never deleted"
        assert "Z" in proc.states
        restored = PartitionProcessor(PARAMS, TOPIC, 0)
        restored.restore(changelog)
        assert "Z" in restored.states
        assert "V" not in restored.states

@pytest.mark.parametrize("restart_at", [1, 3, 6, 9, 12, 13])
def test_aggregator_restore_gives_the_same_records(restart_at: int) -> None:
    restarted = run_restore_stream(restart_at, "aggregator")
    restarted.assert_records(SCENARIO_WINDOWS, SCENARIO_EXPECTED)
    assert summary_of(restarted) == summary_of(run_restore_stream(None))


def test_aggregator_restore_after_windows_were_final() -> None:
    def run(restart: bool) -> Pipeline:
        pipe = Pipeline(partitions=2)
        pipe.send(ev("a1", "A", "opened", at("10:00:05")), p=0)
        pipe.send(ev("b1", "B", "opened", at("10:00:25"), channel="chat"), p=1)
        pipe.send(ev("a2", "A", "responded", at("10:01:30")), p=0)
        pipe.send(ev("b2", "B", "responded", at("10:01:45"), channel="chat"), p=1)
        if restart:
            pipe.restart_aggregator()
        pipe.send(ev("c1", "C", "opened", at("10:00:50")), p=0)  # late for window 10:00
        pipe.send(ev("a3", "A", "resolved", at("10:02:00")), p=0)
        pipe.flush_through(W02)
        return pipe

    restarted = run(True)
    assert restarted.late == Counter({"phone": 1})
    restarted.assert_records([W00, W01, W02], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("chat", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=35.0),
        # C's late opened still makes it wait
        ("phone", W01): dict(answered=1, answered_within_target=0, service_level=0.0,
                             abandonment_rate=0.0, first_response_s=summ(85_000),
                             backlog_waiting=1, backlog_open=2, oldest_wait_s=70.0),
        ("chat", W01): dict(answered=1, answered_within_target=0, service_level=0.0,
                            abandonment_rate=0.0, first_response_s=summ(80_000), backlog_open=1),
        ("phone", W02): dict(resolved=1, resolved_within_target=1, resolution_rate=1.0,
                             on_time_resolution_rate=1.0, resolution_s=summ(115_000), reopen_rate=0.0,
                             backlog_waiting=1, backlog_open=1, oldest_wait_s=130.0),
        ("chat", W02): dict(backlog_open=1),
    })
    assert summary_of(restarted) == summary_of(run(False))


# --- accounting and dead letters ----------------------------------------------------------------------


def test_every_record_is_accepted_duplicate_or_dead_lettered() -> None:
    pipe = Pipeline()
    stream = [
        ev("a1", "A", "opened", at("10:00:00")),
        b"{not json",
        ev("a1", "A", "opened", at("10:00:00")),  # duplicate
        json.dumps({"event_id": "x", "interaction_id": "X", "channel": "fax", "type": "opened",
                    "ts": iso_ms(at("10:00:01"))}).encode(),
        ev("a2", "A", "abandoned", at("10:00:03")),  # short abandon
        ev("a3", "A", "responded", at("10:00:04")),  # invalid: after abandoned
        ev("o1", "O", "failed", at("10:00:06")),  # orphan
        ev("b1", "B", "opened", at("10:00:20"), channel="store"),
        ev("b2", "B", "failed", at("10:00:40"), channel="store"),
    ]
    for value in stream:
        pipe.send(value)
    pipe.flush_through(at("11:01:00"))  # past the orphan timeout
    accepted = sum(pipe.events.values())
    assert accepted == 4
    assert sum(pipe.duplicate.values()) == 1
    assert sorted(pipe.reasons()) == ["invalid_transition", "malformed_json", "orphan", "unknown_channel"]
    assert accepted + sum(pipe.duplicate.values()) + len(pipe.deadletters) == len(stream)
    offsets = sorted(d["source"]["offset"] for _, _, d in pipe.deadletters)
    assert offsets == [1, 3, 5, 6]
    for _, _, d in pipe.deadletters:
        assert d["raw"] == stream[d["source"]["offset"]].decode()
    assert pipe.rejected == Counter(
        {"malformed_json": 1, "unknown_channel": 1, "invalid_transition": 1, "orphan": 1}
    )
    assert_record(pipe.record("phone", W00), expected("phone", W00, opened=1, short_abandoned=1,
                                                      backlog_open=1))
    assert_record(pipe.record("store", W00), expected("store", W00, opened=1, failed=1,
                                                      resolution_rate=0.0))
