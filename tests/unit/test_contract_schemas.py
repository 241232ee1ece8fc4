"""Every record the code writes to a public topic validates against that topic's JSON Schema.

The records come from the real encoders (``monitor.contract``), fed by the real stages: a pipeline
run that produces busy and empty windows and a dead letter of every reason. Hand-written
examples are checked in ``test_topics``; this checks what the code actually emits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from stream_harness import PARAMS, TOPIC, WALL, Pipeline, at, ev

from monitor.contract import alerts, deadletter, topics
from monitor.domain.alerts import Transition
from monitor.domain.stream.events import REASONS, DeadLetter
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
