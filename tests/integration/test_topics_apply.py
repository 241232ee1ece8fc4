"""``monitor.kafka.admin.apply`` against a real broker (``kafka_bootstrap`` session fixture).

The broker is shared with the other integration tests, which may create the real topics
before or after this module runs, so the strict created-then-ok sequence runs on copies of the
definitions under unique names; the real definitions are applied too, with the weaker check
that the first run ends in created/ok and the second in ok.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.config import Config
from monitor.contract.topics import TOPIC_INPUT, TopicDef, load_definitions
from monitor.kafka import admin as topics_admin
from monitor.kafka.admin import TopicStatus, apply

pytestmark = pytest.mark.integration


def unique_copies(defs: list[TopicDef]) -> list[TopicDef]:
    """The definitions under names no other test uses (so the broker is fresh for them)."""
    tag = uuid.uuid4().hex[:8]
    return [dataclasses.replace(d, name=f"test.{tag}.{d.name}") for d in defs]


def run_apply(bootstrap: str, defs: list[TopicDef], create: bool = True) -> list[TopicStatus]:
    return asyncio.run(asyncio.wait_for(apply(bootstrap, defs, create=create), 90))


def summary(statuses: list[TopicStatus]) -> list[tuple[str, str, list[str]]]:
    return [(s.name, s.status, s.differences) for s in statuses]


async def _create(bootstrap: str, topic: NewTopic) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([topic])
        assert [e[1] for e in response.topic_errors] == [0], response
    finally:
        await admin.close()


async def _partition_count(bootstrap: str, name: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        metas: list[dict[str, Any]] = await admin.describe_topics()
        (meta,) = [m for m in metas if m["topic"] == name]
        return len(meta["partitions"])
    finally:
        await admin.close()


def test_fresh_topics_are_created_then_ok(kafka_bootstrap: str) -> None:
    defs = unique_copies(load_definitions())

    checked = run_apply(kafka_bootstrap, defs, create=False)
    assert summary(checked) == [(d.name, "differs", ["missing on the broker"]) for d in defs]

    first = run_apply(kafka_bootstrap, defs)
    assert summary(first) == [(d.name, "created", []) for d in defs]

    second = run_apply(kafka_bootstrap, defs)
    assert summary(second) == [(d.name, "ok", []) for d in defs]

    checked = run_apply(kafka_bootstrap, defs, create=False)
    assert summary(checked) == [(d.name, "ok", []) for d in defs]


def test_real_definitions_apply_and_check(kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    defs = load_definitions()
    first = run_apply(kafka_bootstrap, defs)
    assert [s.name for s in first] == [d.name for d in defs]
    assert all(s.status in ("created", "ok") for s in first), summary(first)

    second = run_apply(kafka_bootstrap, defs)
    assert summary(second) == [(d.name, "ok", []) for d in defs]

    cfg = Config(broker_url=f"kafka://{kafka_bootstrap}")
    assert topics_admin.main(cfg, check_only=True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(defs)
    for line, d in zip(lines, defs, strict=True):
        assert line.split() == ["ok", d.name]


def test_existing_topic_with_other_partitions_differs_and_is_left_alone(
    kafka_bootstrap: str,
) -> None:
    (input_def,) = [d for d in load_definitions() if d.name == TOPIC_INPUT]
    assert input_def.partitions == 4
    defn = dataclasses.replace(input_def, name=f"test.{uuid.uuid4().hex[:8]}.partitions")
    asyncio.run(
        _create(
            kafka_bootstrap,
            NewTopic(defn.name, 2, 1, topic_configs=dict(defn.config)),
        )
    )

    (status,) = run_apply(kafka_bootstrap, [defn])
    assert status.status == "differs"
    assert status.differences == ["partitions: defined 4, broker has 2"]
    # apply never alters an existing topic
    assert asyncio.run(_partition_count(kafka_bootstrap, defn.name)) == 2


def test_existing_topic_with_other_config_differs(kafka_bootstrap: str) -> None:
    (input_def,) = [d for d in load_definitions() if d.name == TOPIC_INPUT]
    assert input_def.config["retention.ms"] == "604800000"
    defn = dataclasses.replace(input_def, name=f"test.{uuid.uuid4().hex[:8]}.config")
    configs = {**defn.config, "retention.ms": "86400000"}
    asyncio.run(_create(kafka_bootstrap, NewTopic(defn.name, 4, 1, topic_configs=configs)))

    (status,) = run_apply(kafka_bootstrap, [defn])
    assert status.status == "differs"
    assert status.differences == ["retention.ms: defined 604800000, broker has 86400000"]
