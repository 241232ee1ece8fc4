"""Topic definitions and the JSON Schemas of the public topics."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from monitor.contract.topics import (
    TOPIC_ALERTS,
    TOPIC_DEADLETTER,
    TOPIC_INDICATORS,
    TOPIC_INPUT,
    TOPIC_INTERACTIONS_CHANGELOG,
    TOPIC_PARTIALS,
    TOPIC_QUALITY,
    TOPIC_QUEUES,
    TOPIC_WINDOWS_CHANGELOG,
    TopicDef,
    load_definitions,
    schema_path,
    with_replication_factor,
)
from monitor.kafka import admin

SPEC_NAMES = [
    "sqm.interactions.v1",
    "sqm.indicators.v1",
    "sqm.queues.v1",
    "sqm.alerts.v1",
    "sqm.deadletter.v1",
    "sqm.quality.v1",
    "sqm.internal.partials.v1",
    "sqm.internal.interactions-changelog.v1",
    "sqm.internal.windows-changelog.v1",
]
PUBLIC = [TOPIC_INPUT, TOPIC_INDICATORS, TOPIC_QUEUES, TOPIC_ALERTS, TOPIC_DEADLETTER,
          TOPIC_QUALITY]


@pytest.fixture(scope="module")
def defs() -> dict[str, TopicDef]:
    return {d.name: d for d in load_definitions()}


def validator(topic: str) -> Draft202012Validator:
    defn = next(d for d in load_definitions() if d.name == topic)
    path = schema_path(defn)
    assert path is not None
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def errors(topic: str, value: object) -> list[str]:
    return [e.message for e in validator(topic).iter_errors(value)]


NO_DIMENSION = {"responses": 0, "expected_mean": None, "perceived_mean": None, "gap": None}
INDICATORS: dict[str, Any] = {
    "schema": "sqm.indicators.v1",
    "channel": "phone",
    "window_start": "2026-11-21T10:00:00Z",
    "window_end": "2026-11-21T10:01:00Z",
    "opened": 12,
    "answered": 9,
    "answered_within_target": 7,
    "abandoned": 1,
    "short_abandoned": 2,
    "service_level": 0.7,
    "abandonment_rate": 0.1,
    "first_response_s": {"p50": 11.0, "p90": 24.5, "p99": 31.0, "mean": 13.2, "max": 31.0},
    "resolved": 5,
    "failed": 1,
    "resolution_rate": 5 / 6,
    "resolved_within_target": 4,
    "on_time_resolution_rate": 0.8,
    "resolution_s": {"p50": 300, "p90": 610, "p99": 640, "mean": 350.4, "max": 640},
    "reopened": 0,
    "reopen_rate": 0.0,
    "backlog_waiting": 3,
    "backlog_open": 17,
    "oldest_wait_s": 42.5,
    "feedback_responses": 3, "csat_responses": 3, "csat_mean": 4.0, "csat_satisfied_ratio": 2 / 3,
    "nps_responses": 2, "nps": 50.0, "complaints": 1, "complaint_rate": 1 / 6,
    "servqual": {
        "reliability": {"responses": 2, "expected_mean": 6.5, "perceived_mean": 5.0, "gap": -1.5},
        "responsiveness": NO_DIMENSION, "assurance": NO_DIMENSION, "empathy": NO_DIMENSION,
        "tangibles": {"responses": 1, "expected_mean": 4.0, "perceived_mean": 5.0, "gap": 1.0},
    },
}  # fmt: skip

EMPTY_INDICATORS: dict[str, Any] = {
    "schema": "sqm.indicators.v1", "channel": "phone",
    "window_start": "2026-11-21T10:00:00Z", "window_end": "2026-11-21T10:01:00Z",
    "opened": 0, "answered": 0, "answered_within_target": 0, "abandoned": 0,
    "short_abandoned": 0, "service_level": None, "abandonment_rate": None,
    "first_response_s": {"p50": None, "p90": None, "p99": None, "mean": None, "max": None},
    "resolved": 0, "failed": 0, "resolution_rate": None, "resolved_within_target": 0,
    "on_time_resolution_rate": None,
    "resolution_s": {"p50": None, "p90": None, "p99": None, "mean": None, "max": None},
    "reopened": 0, "reopen_rate": None, "backlog_waiting": 0, "backlog_open": 0,
    "oldest_wait_s": 0,
    "feedback_responses": 0, "csat_responses": 0, "csat_mean": None, "csat_satisfied_ratio": None,
    "nps_responses": 0, "nps": None, "complaints": 0, "complaint_rate": None,
    "servqual": {d: NO_DIMENSION for d in ("reliability", "responsiveness", "assurance", "empathy",
                                           "tangibles")},
}  # fmt: skip

#: a queue's record (SPEC 9): the channel record's fields, ``queue`` after ``channel``
QUEUE: dict[str, Any] = {"schema": "sqm.queues.v1", "channel": "chat", "queue": "billing",
                         **{k: v for k, v in INDICATORS.items() if k not in ("schema", "channel")}}

DEADLETTER: dict[str, Any] = {
    "schema": "sqm.deadletter.v1",
    "reason": "missing_field",
    "detail": "channel: missing",
    "source": {"topic": "sqm.interactions.v1", "partition": 3, "offset": 1041},
    "raw": '{"event_id":"e-1","interaction_id":"i-1","type":"opened","ts":1795251600000}',
    "received_at": "2026-11-21T09:00:04.512Z",
}

EVENT: dict[str, Any] = {
    "event_id": "e-1",
    "interaction_id": "i-1",
    "channel": "phone",
    "type": "opened",
    "ts": "2026-11-21T10:00:03+01:00",
    "queue": "billing",
    "attrs": {"agent": "a-7"},
}
TRANSFER: dict[str, Any] = {
    "event_id": "e-2",
    "interaction_id": "i-1",
    "channel": "phone",
    "type": "transferred",
    "ts": "2026-11-21T10:00:09+01:00",
    "queue": "disputes",
}

ALERT: dict[str, Any] = {
    "schema": "sqm.alerts.v1",
    "alert_id": "phone/service_level/critical/2026-11-21T10:05:00Z",
    "channel": "phone",
    "indicator": "service_level",
    "severity": "critical",
    "state": "firing",
    "value": 0.62,
    "threshold": 0.8,
    "op": "<",
    "window_start": "2026-11-21T10:04:00Z",
    "window_end": "2026-11-21T10:05:00Z",
    "since": "2026-11-21T10:05:00Z",
    "summary": "phone service_level 0.62 < 0.8 (critical)",
}


QUALITY_SCORES = ("service_level", "abandonment_rate", "resolution_rate",
                  "on_time_resolution_rate", "reopen_rate", "csat_mean", "nps", "servqual_gap")
QUALITY: dict[str, Any] = {
    "schema": "sqm.quality.v1", "kind": "channel", "period_start": "2026-11-21T10:00:00Z",
    "period_end": "2026-11-21T11:00:00Z", "channel": "phone", "quality_index": 72.5,
    "scores": {**dict.fromkeys(QUALITY_SCORES, 0.7), "nps": None},
    "weights": dict.fromkeys(QUALITY_SCORES, 0.125), "method": "entropy",
    "servqual_gap": {"reliability": -1.5, "responsiveness": None, "assurance": None,
                     "empathy": None, "tangibles": 1.0},
}  # fmt: skip
QUALITY_CONSISTENCY: dict[str, Any] = {
    "schema": "sqm.quality.v1", "kind": "consistency", "period_start": "2026-11-21T10:00:00Z",
    "period_end": "2026-11-21T11:00:00Z",
    "scores": {**dict.fromkeys((*QUALITY_SCORES, "quality_index")),
               "quality_index": {"mean": 70.0, "stddev": 5.0, "cv": 5 / 70,
                                 "best_channel": "chat", "worst_channel": "phone"}},
}  # fmt: skip


def changed(base: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A deep copy of ``base`` with ``a.b`` set to ``value`` (or removed for ``...``)."""
    out = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = out
    for p in parents:
        target = target[p]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return out


# --- definitions ---------------------------------------------------------------------------


def test_the_topics_with_the_spec_names() -> None:
    names = [d.name for d in load_definitions()]
    assert names == SPEC_NAMES
    constants = [
        TOPIC_INPUT,
        TOPIC_INDICATORS,
        TOPIC_QUEUES,
        TOPIC_ALERTS,
        TOPIC_DEADLETTER,
        TOPIC_QUALITY,
        TOPIC_PARTIALS,
        TOPIC_INTERACTIONS_CHANGELOG,
        TOPIC_WINDOWS_CHANGELOG,
    ]
    assert constants == SPEC_NAMES


def test_partitions_and_policies(defs: dict[str, TopicDef]) -> None:
    expected = {
        TOPIC_INPUT: (4, "delete", "604800000"),
        TOPIC_INDICATORS: (4, "delete", "2592000000"),
        TOPIC_QUEUES: (4, "delete", "2592000000"),  # retained like the indicators (SPEC 9)
        TOPIC_ALERTS: (1, "delete", "2592000000"),
        TOPIC_DEADLETTER: (4, "delete", "1209600000"),
        TOPIC_QUALITY: (1, "delete", "2592000000"),
        TOPIC_PARTIALS: (4, "delete", "86400000"),
    }
    for name, (partitions, policy, retention) in expected.items():
        d = defs[name]
        assert (d.partitions, d.config["cleanup.policy"], d.config["retention.ms"]) == (
            partitions,
            policy,
            retention,
        ), name
    for name in (TOPIC_INTERACTIONS_CHANGELOG, TOPIC_WINDOWS_CHANGELOG):
        assert defs[name].config["cleanup.policy"] == "compact"
        assert int(defs[name].config["min.compaction.lag.ms"]) >= 0
        assert int(defs[name].config["segment.ms"]) > 0
    assert all(d.replication_factor == 1 for d in defs.values())
    assert all(d.description for d in defs.values())


def test_changelogs_are_copartitioned_with_their_sources(defs: dict[str, TopicDef]) -> None:
    assert defs[TOPIC_INTERACTIONS_CHANGELOG].partitions == defs[TOPIC_INPUT].partitions
    assert defs[TOPIC_WINDOWS_CHANGELOG].partitions == defs[TOPIC_PARTIALS].partitions


def test_internal_flags_and_schemas(defs: dict[str, TopicDef]) -> None:
    for name, d in defs.items():
        assert d.internal == (name not in PUBLIC), name
        assert (d.schema is None) == d.internal, name


@pytest.mark.parametrize("topic", PUBLIC)
def test_public_schema_exists_and_is_valid(topic: str) -> None:
    defn = next(d for d in load_definitions() if d.name == topic)
    path = schema_path(defn)
    assert path is not None and path.is_file()
    assert path.name == f"{topic}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for example in schema.get("examples", []):
        assert errors(topic, example) == []


# --- records that validate -----------------------------------------------------------------


@pytest.mark.parametrize("record", [INDICATORS, EMPTY_INDICATORS], ids=["full", "empty"])
def test_indicators_record_validates(record: dict[str, Any]) -> None:
    assert errors(TOPIC_INDICATORS, record) == []


@pytest.mark.parametrize("record", [
    QUEUE,
    {**EMPTY_INDICATORS, "schema": "sqm.queues.v1", "queue": "other"},
    changed(QUEUE, "queue", "Tier-2.EU_west"),
    changed(QUEUE, "queue", "q" * 64),
], ids=["full", "empty-other", "name-chars", "name-64"])
def test_queue_record_validates(record: dict[str, Any]) -> None:
    assert errors(TOPIC_QUEUES, record) == []


def test_deadletter_record_validates() -> None:
    assert errors(TOPIC_DEADLETTER, DEADLETTER) == []


def test_quality_records_validate() -> None:
    assert errors(TOPIC_QUALITY, QUALITY) == []
    assert errors(TOPIC_QUALITY, QUALITY_CONSISTENCY) == []
    assert errors(TOPIC_QUALITY, changed(QUALITY, "quality_index", None)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("kind", "consistency"),
        ("quality_index", 101),
        ("scores.csat_mean", -0.1),
        ("weights", ...),
        ("method", "ahp2"),
        ("servqual_gap.tangibles", ...),
        ("period_end", "tomorrow"),
    ],
)
def test_invalid_quality_record(path: str, value: object) -> None:
    assert errors(TOPIC_QUALITY, changed(QUALITY, path, value)) != []


def test_alert_record_validates() -> None:
    assert errors(TOPIC_ALERTS, ALERT) == []
    assert errors(TOPIC_ALERTS, changed(ALERT, "value", None)) == []
    assert errors(TOPIC_ALERTS, changed(ALERT, "queue", "billing")) == []  # a queue alert


@pytest.mark.parametrize(
    "event",
    [
        EVENT,
        changed(EVENT, "ts", 1795251603000),
        changed(EVENT, "ts", "2026-11-21T09:00:03.250Z"),
        changed(EVENT, "attrs", ...),
        {**EVENT, "extra": {"anything": [1, 2]}},
        changed(EVENT, "event_id", "x" * 128),
        changed(EVENT, "queue", ...),
        changed(EVENT, "queue", "q" * 64),
        changed(EVENT, "queue", "an undeclared queue / any text"),
        TRANSFER,
        changed(changed(EVENT, "type", "responded"), "queue", "billing"),
    ],
    ids=["rfc3339-offset", "epoch-ms", "rfc3339-utc-fraction", "no-attrs", "extra", "id-128",
         "no-queue", "queue-64", "queue-any-text", "transferred", "queue-on-responded"],
)
def test_input_event_validates(event: dict[str, Any]) -> None:
    assert errors(TOPIC_INPUT, event) == []


# --- records that do not -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("service_level", 1.5),
        ("abandonment_rate", -0.1),
        ("opened", -1),
        ("opened", 1.5),
        ("opened", None),
        ("first_response_s.p90", "12"),
        ("first_response_s.p99", ...),
        ("resolution_s", None),
        ("window_start", "2026-11-21T10:00:00+00:00"),
        ("window_end", "2026-11-21 10:01:00Z"),
        ("schema", "sqm.indicators.v2"),
        ("channel", ...),
        ("backlog_open", ...),
        ("oldest_wait_s", -3),
        ("unexpected", 1),
    ],
)
def test_invalid_indicators_record(path: str, value: object) -> None:
    assert errors(TOPIC_INDICATORS, changed(INDICATORS, path, value)) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("reason", "nope"),
        ("source.partition", "3"),
        ("source.offset", ...),
        ("raw", "x" * 4097),
        ("received_at", "yesterday"),
        ("detail", ...),
        ("schema", ...),
    ],
)
def test_invalid_deadletter_record(path: str, value: object) -> None:
    assert errors(TOPIC_DEADLETTER, changed(DEADLETTER, path, value)) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("severity", "info"),
        ("state", "pending"),
        ("op", ">="),
        ("threshold", None),
        ("summary", ...),
    ],
)
def test_invalid_alert_record(path: str, value: object) -> None:
    assert errors(TOPIC_ALERTS, changed(ALERT, path, value)) != []


@pytest.mark.parametrize("queue", ["", "q" * 65, "a/b", ".hidden", 7, None])
def test_invalid_queue_name_in_an_alert_record(queue: object) -> None:
    assert errors(TOPIC_ALERTS, changed(ALERT, "queue", queue)) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("queue", ...),
        ("queue", None),
        ("queue", ""),
        ("queue", "q" * 65),
        ("queue", "chat/billing"),
        ("queue", "-billing"),
        ("schema", "sqm.indicators.v1"),
        ("service_level", 1.5),
        ("unexpected", 1),
    ],
)
def test_invalid_queue_record(path: str, value: object) -> None:
    assert errors(TOPIC_QUEUES, changed(QUEUE, path, value)) != []


def test_a_channel_record_is_not_a_queue_record_nor_the_reverse() -> None:
    assert errors(TOPIC_QUEUES, INDICATORS) != []
    assert errors(TOPIC_INDICATORS, QUEUE) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("channel", ...),
        ("event_id", ""),
        ("interaction_id", "x" * 129),
        ("type", "feedback"),
        ("type", "closed"),
        ("ts", "yesterday"),
        ("ts", "2026-11-21T10:00:03"),
        ("ts", 1795251603000.5),
        ("ts", True),
        ("attrs", ["queue"]),
        ("channel", 7),
        ("queue", ""),
        ("queue", "q" * 65),
        ("queue", 7),
        ("queue", None),
    ],
)
def test_invalid_input_event(path: str, value: object) -> None:
    assert errors(TOPIC_INPUT, changed(EVENT, path, value)) != []


@pytest.mark.parametrize(("path", "value"), [("queue", ...), ("queue", None), ("queue", "")])
def test_a_transfer_names_its_queue(path: str, value: object) -> None:
    assert errors(TOPIC_INPUT, changed(TRANSFER, path, value)) != []


def test_input_event_that_is_not_an_object() -> None:
    assert errors(TOPIC_INPUT, [EVENT]) != []


# --- validation of the definitions file ----------------------------------------------------

GOOD_ENTRY = """
[[topics]]
name = "t.one"
description = "one"
internal = true
partitions = 2
[topics.config]
"cleanup.policy" = "delete"
"retention.ms" = 1000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_file_defaults_and_normalised_values(tmp_path: Path) -> None:
    (defn,) = load_definitions(write(tmp_path, GOOD_ENTRY))
    assert defn == TopicDef(
        name="t.one",
        partitions=2,
        replication_factor=1,
        config={"cleanup.policy": "delete", "retention.ms": "1000"},
        internal=True,
        schema=None,
        description="one",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("partitions = 2", "partitions = 0", "topic t.one: partitions"),
        ("partitions = 2", 'partitions = "2"', "topic t.one: partitions"),
        ("partitions = 2", "", "topic t.one: partitions"),
        ("partitions = 2", "partitions = 2\nreplication_factor = 0", "replication_factor"),
        ("partitions = 2", "partitions = 2\npartition = 3", "topic t.one: partition: unknown key"),
        ('"cleanup.policy" = "delete"', '"cleanup.policy" = "forever"', "config.cleanup.policy"),
        ('"cleanup.policy" = "delete"', "", "topic t.one: config.cleanup.policy"),
        ('"retention.ms" = 1000', '"retention.ms" = 1.5', "topic t.one: config.retention.ms"),
        ("internal = true", "internal = false", "topic t.one: schema"),
        ("internal = true", 'internal = "yes"', "topic t.one: internal"),
        ("internal = true", 'internal = true\nschema = "nope.json"', "topic t.one: schema"),
        ('description = "one"', "", "topic t.one: description"),
        ('name = "t.one"', 'name = "bad name"', "topics[0]: name"),
        (
            "partitions = 2",
            'partitions = 2\ncopartitioned_with = "t.zero"',
            "topic t.one: copartitioned_with",
        ),
    ],
)
def test_bad_entry_names_topic_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD_ENTRY
    with pytest.raises(ValueError, match=re.escape(message)):
        load_definitions(write(tmp_path, GOOD_ENTRY.replace(old, new)))


def test_copartitioned_counts_must_match(tmp_path: Path) -> None:
    second = GOOD_ENTRY.replace('"t.one"', '"t.two"').replace(
        "partitions = 2", 'partitions = 3\ncopartitioned_with = "t.one"'
    )
    with pytest.raises(ValueError, match=r"topic t\.two: partitions: must equal t\.one's \(2\)"):
        load_definitions(write(tmp_path, GOOD_ENTRY + second))


def test_duplicate_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"topic t\.one: name: defined twice"):
        load_definitions(write(tmp_path, GOOD_ENTRY + GOOD_ENTRY))
    with pytest.raises(ValueError, match="not valid TOML"):
        load_definitions(write(tmp_path, "[[topics]\n"))
    with pytest.raises(ValueError, match="at least one"):
        load_definitions(write(tmp_path, ""))
    with pytest.raises(ValueError, match="not found"):
        load_definitions(tmp_path / "missing.toml")


def testreplication_override() -> None:
    defs = with_replication_factor(load_definitions(), 3)
    assert {d.replication_factor for d in defs} == {3}
    assert admin.replication_override({}) is None
    assert admin.replication_override({admin.ENV_REPLICATION_FACTOR: "3"}) == 3
    with pytest.raises(ValueError, match=admin.ENV_REPLICATION_FACTOR):
        admin.replication_override({admin.ENV_REPLICATION_FACTOR: "three"})


def test_main_reports_unreachable_broker_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.config import Config

    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    assert admin.main(Config(broker_url="kafka://127.0.0.1:1"), check_only=True) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0] == "error: cannot reach the Kafka broker at 127.0.0.1:1: no broker answered"
    assert "Traceback" not in captured.err + captured.out
