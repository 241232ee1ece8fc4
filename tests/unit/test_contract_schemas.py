"""Every record the code writes to a public topic validates against that topic's JSON Schema.

The records come from the real encoders (``monitor.contract``), fed by the real stages: a pipeline
run that produces busy and empty windows and a dead letter of every reason, and one over a channel
with queues (SPEC 9) for the queue records and queue alerts. Hand-written examples are checked in
``test_topics``; this checks what the code actually emits, and that the input schema and the
parser agree on the ``queue`` field and the ``transferred`` type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from stream_harness import PARAMS, TOPIC, WALL, Pipeline, at, ev

from monitor.config import Config, domain_params, from_mapping, window_rules
from monitor.contract import alerts, deadletter, queues, topics
from monitor.contract.input import Parser
from monitor.domain.alerts import Transition
from monitor.domain.stream.events import REASONS, DeadLetter, Event
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import Partial
from monitor.stages.aggregate.aggregator import Aggregator
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor

W00 = at("10:00:00")


def validator(topic: str) -> Draft202012Validator:
    defn = next(d for d in topics.load_definitions() if d.name == topic)
    path = topics.schema_path(defn)
    assert path is not None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(topic: str, value: Any) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in validator(topic).iter_errors(value)]


def indicator_records() -> list[dict[str, Any]]:
    """Records of busy and empty windows, with every kind of measurement and a backlog."""
    pipe = Pipeline()
    pipe.send(
        ev("a1", "A", "opened", at("10:00:01")), ev("a2", "A", "responded", at("10:00:06")),
        ev("a3", "A", "resolved", at("10:00:09")), ev("a4", "A", "reopened", at("10:00:20")),
        ev("b1", "B", "opened", at("10:00:30")), ev("b2", "B", "abandoned", at("10:00:32")),
        ev("c1", "C", "opened", at("10:00:40", ), channel="chat"),
        ev("c2", "C", "abandoned", at("10:00:55"), channel="chat"),
        ev("c3", "C", "failed", at("10:01:30"), channel="chat"),
        ev("d1", "D", "opened", at("10:01:50")),  # still waiting at the end of the window
    )
    pipe.flush_through(at("10:02:00"))
    return [r for _, r in pipe.records]


def test_indicator_records_from_the_encoder_validate() -> None:
    records = indicator_records()
    assert len(records) == 3 * 7  # three windows, every configured channel
    busy = [r for r in records if r["opened"]]
    assert {r["channel"] for r in busy} == {"phone", "chat"}
    assert any(r["first_response_s"]["p50"] is not None for r in records)
    assert any(r["oldest_wait_s"] > 0 for r in records)
    assert any(r["service_level"] is None for r in records)  # empty windows
    for r in records:
        assert errors(topics.TOPIC_INDICATORS, r) == [], r


def test_the_schema_check_can_fail() -> None:
    """The validator is not vacuous: a record the encoder would never write is refused."""
    bad = dict(indicator_records()[0], service_level=1.5)
    assert errors(topics.TOPIC_INDICATORS, bad) != []


def dead_letters() -> list[DeadLetter]:
    """One dead letter of every reason, from the real stage one."""
    proc = PartitionProcessor(PARAMS, TOPIC, 2)
    big = json.dumps({"event_id": "x", "pad": "y" * PARAMS.max_event_bytes}).encode()
    bad_utf8 = b'{"event_id": "\xff\xfe", "interaction_id": 1}'
    records: list[tuple[bytes | None, bytes | None]] = [
        (b"k", b"{"), (None, None), (b"k", bad_utf8), (b"k", b"[1]"),
        (b"k", b'{"event_id": "e"}'),
        (b"k", json.dumps({"event_id": "e", "interaction_id": "i", "channel": "phone",
                           "type": "opened", "ts": 1.5}).encode()),
        (b"k", ev("", "I", "opened", at("10:00:00"))),
        (b"k", ev("e", "I", "closed", at("10:00:00"))),
        (b"k", ev("e", "I", "opened", at("10:00:00"), channel="fax")),
        (b"k", json.dumps({"event_id": "e", "interaction_id": "i", "channel": "phone",
                           "type": "opened", "ts": "yesterday"}).encode()),
        (b"k", big),
        (b"O", ev("o1", "O", "opened", at("10:00:00"))),
        (b"O", ev("o2", "O", "opened", at("10:00:05"))),  # invalid_transition
        (b"H", ev("h1", "H", "responded", at("10:00:10"))),  # an orphan, once time passes
    ]
    out = proc.process([(i, k, v) for i, (k, v) in enumerate(records)], WALL)
    later = proc.advance(at("12:00:00"), idle=True)
    return out.deadletters + later.deadletters


def test_dead_letters_from_the_encoder_validate() -> None:
    letters = dead_letters()
    assert {d.reason for d in letters} == set(REASONS)
    for d in letters:
        record = json.loads(deadletter.encode(d))
        assert errors(topics.TOPIC_DEADLETTER, record) == [], record


@pytest.mark.parametrize("reason", REASONS)
def test_a_dead_letter_at_the_extremes_validates(reason: str) -> None:
    """The extremes: no key, no value, offset 0, a raw record that is not UTF-8 and over 4 KiB."""
    for raw in (None, b"\xff" * 5000):
        d = DeadLetter(reason, "why", TOPIC, 0, 0, None, raw, W00)
        record = json.loads(deadletter.encode(d))
        assert errors(topics.TOPIC_DEADLETTER, record) == [], record


@pytest.mark.parametrize(("indicator", "severity", "state", "value", "threshold", "op"), [
    ("service_level", "critical", "firing", 0.5, 0.6, "<"),
    ("service_level", "warning", "resolved", 1.0, 0.8, "<"),
    ("oldest_wait_s", "warning", "firing", 41.5, 40.0, ">"),
    ("no_data", "warning", "firing", 1, 0.0, ">"),
])
def test_alert_records_from_the_encoder_validate(indicator: str, severity: str, state: str,
                                                 value: float, threshold: float, op: str) -> None:
    t = Transition("phone", indicator, severity, state, value, threshold, op, W00 + 120_000,
                   W00 + 180_000, W00 + 60_000)
    record = json.loads(alerts.encode(t))
    assert errors(topics.TOPIC_ALERTS, record) == [], record
    assert record["alert_id"] == f"phone/{indicator}/2026-11-21T10:01:00Z"
    assert (record["since"], record["window_start"]) == ("2026-11-21T10:01:00Z", "2026-11-21T10:02:00Z")


# --- queues (SPEC 9) -----------------------------------------------------------------------

#: chat with two declared queues (billing answers within 10 s), and a queue alert on each
QUEUED: Config = from_mapping({
    "max_event_age_s": 60 * 86_400,
    "channels": {"chat": {"first_response_target_s": 20, "resolution_target_s": 3600,
                          "queues": {"billing": {"first_response_target_s": 10}, "sales": {}}}},
    "alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "queues": ["*"],
                "for_windows": 1, "clear_windows": 1, "min_volume": 1}],
}, env={})


def chat(eid: str, iid: str, etype: str, ts_ms: int, queue: str | None = None) -> bytes:
    body: dict[str, Any] = {"event_id": eid, "interaction_id": iid, "channel": "chat",
                            "type": etype, "ts": ts_ms}
    if queue is not None:
        body["queue"] = queue
    return json.dumps(body).encode()


def queue_outputs() -> tuple[list[Indicators], list[Transition]]:
    """Stage one then stage two on chat's queues (the harness's pipeline has none): billing
    answers late at 10:00 (its alert fires) and in time at 10:01 (it resolves); a contact opened
    in an undeclared queue (measured under ``other``) moves to sales and is answered there; one
    opened without a queue (``main``) is still waiting at 10:00's end; 10:02 is empty."""
    params = domain_params(QUEUED)
    stage_one = PartitionProcessor(params, TOPIC, 0)
    stage_two = Aggregator(params, 0, 1, 1, window_rules(QUEUED))
    events = [
        chat("a1", "A", "opened", at("10:00:01"), "billing"),
        chat("a2", "A", "responded", at("10:00:30")),
        chat("b1", "B", "opened", at("10:00:02"), "nope"),
        chat("b2", "B", "transferred", at("10:00:03"), "sales"),
        chat("b3", "B", "responded", at("10:00:05")),
        chat("c1", "C", "opened", at("10:00:40")),
        chat("d1", "D", "opened", at("10:01:01"), "billing"),
        chat("d2", "D", "responded", at("10:01:03")),
        chat("a3", "A", "resolved", at("10:01:30")),
    ]
    batches = [stage_one.process([(i, None, v) for i, v in enumerate(events)], WALL),
               stage_one.advance(at("10:03:30"), idle=True)]
    items: list[Partial | Mark] = []
    for b in batches:
        assert isinstance(b, BatchResult) and not b.deadletters
        items += [Partial(0, q, w, acc) for (q, w), acc in b.partials.items()]
        if b.mark is not None:
            items.append(b.mark)
    out = stage_two.process(items, at("10:03:30"))
    return out.queue_records, out.alerts


def test_queue_records_from_the_encoder_validate() -> None:
    records, _ = queue_outputs()
    got = [json.loads(queues.encode(r)) for r in records]
    assert sorted({(r["queue"], r["window_start"]) for r in got}) == sorted(
        (q, f"2026-11-21T10:0{m}:00Z") for q in ("main", "billing", "sales", "other")
        for m in range(3))
    assert len(got) == 12
    assert {r["schema"] for r in got} == {"sqm.queues.v1"}
    assert any(r["first_response_s"]["p50"] is not None for r in got)
    assert any(r["oldest_wait_s"] > 0 for r in got)
    assert any(r["service_level"] is None for r in got)
    for r in got:
        assert errors(topics.TOPIC_QUEUES, r) == [], r
        assert list(r)[:3] == ["schema", "channel", "queue"]
        assert errors(topics.TOPIC_INDICATORS, r) != []  # not a channel record


def test_queue_alert_records_from_the_encoder_validate() -> None:
    _, transitions = queue_outputs()
    got = [json.loads(alerts.encode(t)) for t in transitions]
    assert [(r["queue"], r["state"], r["window_start"]) for r in got] == [
        ("billing", "firing", "2026-11-21T10:00:00Z"),
        ("billing", "resolved", "2026-11-21T10:01:00Z")]
    for r in got:
        assert errors(topics.TOPIC_ALERTS, r) == [], r
        assert r["alert_id"] == "chat/billing/service_level/2026-11-21T10:00:00Z"


#: input events on chat with a queue: the schema and the parser must agree on each
QUEUE_EVENTS_OK = [
    {"type": "opened", "queue": "billing"},
    {"type": "opened", "queue": "an undeclared queue"},  # measured under ``other``
    {"type": "opened", "queue": "q" * 64},
    {"type": "opened"},  # the default queue
    {"type": "transferred", "queue": "sales"},
    {"type": "transferred", "queue": "nope"},
    {"type": "responded", "queue": "billing"},  # ignored on this type
]
QUEUE_EVENTS_BAD = [
    {"type": "transferred"},
    {"type": "transferred", "queue": None},
    {"type": "transferred", "queue": ""},
    {"type": "opened", "queue": ""},
    {"type": "opened", "queue": "q" * 65},
    {"type": "opened", "queue": 7},
    {"type": "transferred", "queue": ["sales"]},
]


def _event(fields: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": "e", "interaction_id": "i", "channel": "chat",
            "ts": "2026-11-21T10:00:00Z", **fields}


@pytest.mark.parametrize("fields", QUEUE_EVENTS_OK)
def test_an_event_with_a_queue_that_validates_is_accepted(fields: dict[str, Any]) -> None:
    event = _event(fields)
    assert errors(topics.TOPIC_INPUT, event) == [], event
    parsed = Parser(domain_params(QUEUED).queues, 0, 65_536, 60 * 86_400_000)(
        json.dumps(event).encode(), WALL)
    assert isinstance(parsed, Event), parsed


@pytest.mark.parametrize("fields", QUEUE_EVENTS_BAD)
def test_an_event_with_a_queue_the_schema_refuses_is_dead_lettered(fields: dict[str, Any]) -> None:
    event = _event(fields)
    assert errors(topics.TOPIC_INPUT, event) != [], event
    parsed = Parser(domain_params(QUEUED).queues, 0, 65_536, 60 * 86_400_000)(
        json.dumps(event).encode(), WALL)
    assert not isinstance(parsed, Event), parsed
