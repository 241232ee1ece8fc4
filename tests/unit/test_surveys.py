"""Surveys through both stages (SPEC 7.1): the window of their own time, no ``opened`` needed,
de-duplicated by event id (also across a restore), late like any measurement, malformed ones
dead-lettered as ``bad_value`` naming the field, and a survey-only state dropped after the
reopen window.

Every expected value is worked out by hand in the test from the surveys' numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from stream_harness import (
    PARAMS,
    TOPIC,
    WALL,
    Pipeline,
    assert_record,
    at,
    ev,
    expected,
    iso_ms,
)

from monitor.stages.interactions.processor import PartitionProcessor

W00, W01, W02 = (at(f"10:0{k}:00") for k in range(3))
DIMS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")


def survey(eid: str, iid: str, ts_ms: int, channel: str = "phone", **fb: Any) -> bytes:
    return json.dumps({"event_id": eid, "interaction_id": iid, "channel": channel,
                       "type": "feedback", "ts": iso_ms(ts_ms), "feedback": fb}).encode()


def sq(**dims: tuple[int, int]) -> dict[str, Any]:
    """``servqual`` of a survey: dimension -> (expected, perceived)."""
    return {d: {"expected": e, "perceived": p} for d, (e, p) in dims.items()}


def dims(**given: tuple[int, float, float]) -> dict[str, Any]:
    """Expected ``servqual`` of a record: dimension -> (responses, expected mean, perceived mean)."""
    out: dict[str, Any] = {d: {"responses": 0, "expected_mean": None, "perceived_mean": None,
                               "gap": None} for d in DIMS}
    for d, (n, e, p) in given.items():
        out[d] = {"responses": n, "expected_mean": e, "perceived_mean": p, "gap": p - e}
    return out


SURVEYS = [  # phone, 10:00: csat 5, 4, 2; nps 9 (promoter), 7 (passive), 6 (detractor)
    survey("f1", "A", at("10:00:20"), csat=5, nps=9, complaint=False,
           servqual=sq(reliability=(6, 5), empathy=(5, 6))),
    survey("f2", "B", at("10:00:30"), csat=4, nps=7, servqual=sq(reliability=(7, 4))),
    survey("f3", "C", at("10:00:40"), csat=2, nps=6, complaint=True),
]
PHONE_W00: dict[str, Any] = dict(
    feedback_responses=3, csat_responses=3, csat_mean=11 / 3, csat_satisfied_ratio=2 / 3,
    nps_responses=3, nps=0.0, complaints=1,
    servqual=dims(reliability=(2, 6.5, 4.5), empathy=(1, 5.0, 6.0)),
)


def test_surveys_count_in_the_window_of_their_own_time_without_an_opened() -> None:
    pipe = Pipeline()
    pipe.send(ev("o1", "Z", "opened", at("10:00:05")))  # one contact opened: complaint rate 1/1
    pipe.send(*SURVEYS)
    pipe.send(survey("f4", "D", at("10:01:10"), channel="chat", nps=8))  # passive only
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0,
                             complaint_rate=1.0, **PHONE_W00),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
        ("chat", W01): dict(feedback_responses=1, nps_responses=1, nps=0.0),
    })
    assert pipe.events == Counter({("phone", "opened"): 1, ("phone", "feedback"): 3,
                                   ("chat", "feedback"): 1})
    assert pipe.deadletters == []


@pytest.mark.parametrize(("scores", "nps"), [
    ((6, 7), -50.0),  # 6 detractor, 7 passive
    ((8, 9), 50.0),  # 8 passive, 9 promoter
    ((0, 10, 10), 100 / 3),  # 0 detractor, 10 promoters
    ((7, 8), 0.0),  # passives only
])
def test_nps_boundaries(scores: tuple[int, ...], nps: float) -> None:
    pipe = Pipeline()
    pipe.send(*(survey(f"n{i}", f"N{i}", at("10:00:10") + i, nps=s) for i, s in enumerate(scores)))
    pipe.flush_through(W00)
    assert pipe.record("phone", W00)["nps"] == pytest.approx(nps, rel=1e-12)
    assert pipe.record("phone", W00)["nps_responses"] == len(scores)


def test_csat_satisfied_share_counts_four_and_five() -> None:
    pipe = Pipeline()
    pipe.send(*(survey(f"c{s}", f"C{s}", at("10:00:10") + s, csat=s) for s in (1, 2, 3, 4, 5)))
    pipe.flush_through(W00)
    rec = pipe.record("phone", W00)
    assert (rec["csat_mean"], rec["csat_satisfied_ratio"]) == (3.0, 0.4)
    assert rec["complaint_rate"] is None and rec["complaints"] == 0  # no opened: no rate


def test_a_repeated_survey_counts_once_also_after_a_restore() -> None:
    pipe = Pipeline()
    pipe.send(*SURVEYS)
    pipe.send(SURVEYS[0])
    pipe.restart_partition(0)
    pipe.send(SURVEYS[1], SURVEYS[2])
    pipe.flush_through(W00)
    pipe.assert_records([W00], {("phone", W00): PHONE_W00})
    assert pipe.duplicate == Counter({"phone": 3})


def test_surveys_on_two_partitions_give_the_same_window_as_one() -> None:
    pipe = Pipeline(partitions=2)
    pipe.send(SURVEYS[0], SURVEYS[2], p=0)
    pipe.send(SURVEYS[1], p=1)
    pipe.flush_through(W00)
    pipe.assert_records([W00], {("phone", W00): PHONE_W00})


def test_a_survey_for_a_final_window_is_late_and_the_window_is_not_reemitted() -> None:
    pipe = Pipeline()
    pipe.send(survey("f1", "A", at("10:00:20"), csat=5))
    pipe.send(ev("o1", "Z", "opened", at("10:01:30")))  # watermark passes 10:01:10: 10:00 final
    assert_record(pipe.record("phone", W00), expected(
        "phone", W00, feedback_responses=1, csat_responses=1, csat_mean=5.0,
        csat_satisfied_ratio=1.0))
    pipe.send(survey("f2", "B", at("10:00:50"), csat=1))
    assert pipe.late == Counter({"phone": 1})
    assert pipe.events[("phone", "feedback")] == 2
    assert len([r for c, r in pipe.records if c == "phone"]) == 1


def test_a_survey_within_the_grace_is_not_late() -> None:
    pipe = Pipeline()
    pipe.send(ev("o1", "Z", "opened", at("10:01:09")))  # watermark 10:01:09 < 10:01:10
    pipe.send(survey("f1", "A", at("10:00:59.999"), csat=4))
    pipe.flush_through(W01)
    assert pipe.late == Counter()
    assert pipe.record("phone", W00)["csat_mean"] == 4.0


BAD = [
    ({"csat": 6}, "feedback.csat"),
    ({"csat": 0}, "feedback.csat"),
    ({"csat": True}, "feedback.csat"),
    ({"csat": 4.0}, "feedback.csat"),
    ({"csat": None}, "feedback.csat"),
    ({"nps": -1}, "feedback.nps"),
    ({"nps": 11}, "feedback.nps"),
    ({"nps": "9"}, "feedback.nps"),
    ({"complaint": "yes"}, "feedback.complaint"),
    ({"servqual": {"empathy": {"expected": 0, "perceived": 3}}}, "feedback.servqual.empathy.expected"),
    ({"servqual": {"empathy": {"expected": 8, "perceived": 3}}}, "feedback.servqual.empathy.expected"),
    ({"servqual": {"empathy": {"expected": 5}}}, "feedback.servqual.empathy"),
    ({"servqual": {"speed": {"expected": 5, "perceived": 5}}}, "feedback.servqual"),
    ({"servqual": {"empathy": {"expected": 5, "perceived": 5, "note": 1}}},
     "feedback.servqual.empathy"),
    ({"servqual": {}}, "feedback"),
    ({"servqual": [1]}, "feedback.servqual"),
    ({}, "feedback"),
    ({"csat": 4, "comment": "slow"}, "feedback"),
    ([4], "feedback"),
    (None, "feedback"),
]


def test_malformed_surveys_are_bad_value_dead_letters_naming_the_field() -> None:
    pipe = Pipeline()
    values = []
    for i, (fb, _field) in enumerate(BAD):
        d: dict[str, Any] = {"event_id": f"x{i}", "interaction_id": f"X{i}", "channel": "phone",
                             "type": "feedback", "ts": iso_ms(at("10:00:10"))}
        if fb is not None:
            d["feedback"] = fb
        values.append(json.dumps(d).encode())
    pipe.send(*values)
    assert pipe.reasons() == ["bad_value"] * len(BAD)
    for (_, _, dl), (_fb, field) in zip(pipe.deadletters, BAD, strict=True):
        assert dl["detail"].startswith(field + ":") or dl["detail"].startswith(field + " "), dl
    assert pipe.events == Counter()


def test_a_feedback_field_on_a_lifecycle_event_is_ignored() -> None:
    pipe = Pipeline()
    d = json.loads(ev("o1", "Z", "opened", at("10:00:05")))
    d["feedback"] = {"csat": 9}
    pipe.send(json.dumps(d).encode())
    pipe.flush_through(W00)
    assert pipe.record("phone", W00)["opened"] == 1
    assert pipe.record("phone", W00)["feedback_responses"] == 0


def test_a_survey_only_state_is_kept_for_the_reopen_window_then_dropped() -> None:
    """A survey for a contact this deployment never saw opened keeps a small state, so that a
    repeat is still recognised, until ``reopen_window`` after the survey; a restore keeps the
    same rule."""
    proc = PartitionProcessor(PARAMS, TOPIC, 0)
    first = survey("f1", "S", at("10:00:00"), csat=3)
    changelog = []
    res = proc.process([(0, b"S", first)], WALL)
    changelog += res.changelog
    assert "S" in proc.states
    res = proc.process([(1, b"S", first), (2, b"T", ev("t1", "T", "opened", at("10:00:00", day=6)))],
                       WALL)
    changelog += res.changelog
    assert {(q.channel, q.name): n for q, n in res.duplicate.items()} == {("phone", "main"): 1}
    restored = PartitionProcessor(PARAMS, TOPIC, 0)
    restored.restore(changelog)
    assert "S" in restored.states
    for p in (proc, restored):  # a week and a minute later the state is gone
        p.process([(3, b"U", ev("u1", "U", "opened", at("10:01:00", day=7)))], WALL)
        p.advance(at("10:05:00", day=7), idle=True)
        assert "S" not in p.states
        assert "T" in p.states


def test_a_survey_ahead_of_buffered_events_does_not_skip_their_backlog() -> None:
    """In one batch, a survey of 10:01:30 is measured at once while an ``opened`` of 10:00:05
    still waits in the reorder buffer: the 10:00 window keeps its backlog."""
    pipe = Pipeline()
    pipe.send(survey("f1", "A", at("10:01:30"), csat=4), ev("o1", "Z", "opened", at("10:00:05")))
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0,
                             feedback_responses=1, csat_responses=1, csat_mean=4.0,
                             csat_satisfied_ratio=1.0),
    })


def test_an_opened_after_its_survey_starts_a_normal_lifecycle() -> None:
    pipe = Pipeline()
    pipe.send(survey("f1", "A", at("10:00:05"), csat=5))
    pipe.send(ev("a1", "A", "opened", at("10:00:10")), ev("a2", "A", "responded", at("10:00:20")))
    pipe.flush_through(W00)
    rec = pipe.record("phone", W00)
    assert (rec["opened"], rec["answered"], rec["feedback_responses"]) == (1, 1, 1)
    assert pipe.deadletters == []


def test_deadletter_detail_of_a_missing_feedback_object() -> None:
    pipe = Pipeline()
    pipe.send(ev("x1", "X", "feedback", at("10:00:05")))
    ((_, _, dl),) = pipe.deadletters
    assert dl["reason"] == "bad_value"
    assert dl["detail"].startswith("feedback is missing")


def test_the_detail_of_a_bad_survey_reads_as_a_sentence() -> None:
    pipe = Pipeline()
    pipe.send(survey("x1", "X", at("10:00:05"), servqual=sq(empathy=(0, 3))),
              survey("x2", "Y", at("10:00:05"), csat=4, comment="slow"))
    assert [d["detail"] for _, _, d in pipe.deadletters] == [
        "feedback.servqual.empathy.expected: expected int >= 1",
        "feedback: object contains unknown field comment",
    ]
