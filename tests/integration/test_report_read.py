"""``monitor.report.read.read_documents`` on the real broker: from the output topics it returns
exactly the records whose event time is in the range, a late (backfilled) one included (alerts:
every record before the range end, however old), and reports progress for each topic. The
queues' topic (SPEC 9) is read only under a config that declares queues."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from harness import reset_topics

from monitor.config import Config, from_mapping
from monitor.contract.timefmt import format_utc_s
from monitor.contract.topics import TOPIC_ALERTS, TOPIC_INDICATORS, TOPIC_QUEUES
from monitor.report.read import read_documents

TOPIC_QUALITY = "sqm.quality.v1"
M = 60_000
H = 3_600_000


def _window(tag: str, start_ms: int) -> dict[str, Any]:
    return {"schema": "sqm.indicators.v1", "channel": "phone", "tag": tag,
            "window_start": format_utc_s(start_ms), "window_end": format_utc_s(start_ms + M)}


def _queue(tag: str, start_ms: int) -> dict[str, Any]:
    return {**_window(tag, start_ms), "schema": "sqm.queues.v1", "queue": "billing"}


def _alert(tag: str, start_ms: int) -> dict[str, Any]:
    return {"schema": "sqm.alerts.v1", "channel": "phone", "tag": tag,
            "window_start": format_utc_s(start_ms), "window_end": format_utc_s(start_ms + M),
            "since": format_utc_s(start_ms)}


def _quality(tag: str, start_ms: int) -> dict[str, Any]:
    return {"schema": "sqm.quality.v1", "kind": "channel", "channel": "phone", "tag": tag,
            "period_start": format_utc_s(start_ms), "period_end": format_utc_s(start_ms + H)}


def _scenario(frm: int, to: int) -> list[tuple[str, dict[str, Any], int]]:
    """(topic, value, produce time): each window is produced 70 s after its start (close +
    grace), except the backfill, produced well after the range."""
    return [
        (TOPIC_INDICATORS, _window("before", frm - 2 * M), frm - 2 * M + 70_000),
        (TOPIC_INDICATORS, _window("first", frm), frm + 70_000),
        (TOPIC_INDICATORS, _window("second", frm + M), frm + M + 70_000),
        (TOPIC_INDICATORS, _window("backfill", frm + 2 * M), to + 10 * M),
        (TOPIC_INDICATORS, _window("at-end", to), to + 70_000),
        (TOPIC_ALERTS, _alert("old", frm - 5 * M), frm - 5 * M + 70_000),
        (TOPIC_ALERTS, _alert("long-ago", frm - 30 * H), frm - 30 * H + 70_000),
        (TOPIC_ALERTS, _alert("firing", frm + M), frm + M + 70_000),
        (TOPIC_ALERTS, _alert("after", to), to + 70_000),
        (TOPIC_QUALITY, _quality("period", frm), frm + H + 70_000),
        (TOPIC_QUALITY, _quality("next", to), to + H + 70_000),
        (TOPIC_QUEUES, _queue("q-before", frm - M), frm - M + 70_000),
        (TOPIC_QUEUES, _queue("q-first", frm), frm + 70_000),
        (TOPIC_QUEUES, _queue("q-backfill", frm + 3 * M), to + 20 * M),
        (TOPIC_QUEUES, _queue("q-at-end", to), to + 70_000),
    ]


async def _produce(bootstrap: str, items: list[tuple[str, dict[str, Any], int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for topic, value, ts in items:
            await producer.send(topic, orjson.dumps(value), key=b"phone", timestamp_ms=ts)
        await producer.flush()
    finally:
        await producer.stop()


def test_read_documents_returns_exactly_the_in_range_records(kafka_bootstrap: str) -> None:
    reset_topics(kafka_bootstrap)
    frm = (int(time.time() * 1000) // H - 3) * H
    to = frm + H
    asyncio.run(_produce(kafka_bootstrap, _scenario(frm, to)))
    calls: list[tuple[str, int, int]] = []
    cfg = Config(broker_url=f"kafka://{kafka_bootstrap}")
    docs = read_documents(cfg, frm, to, lambda t, d, n: calls.append((t, d, n)))
    assert sorted(d["tag"] for d in docs.indicators) == ["backfill", "first", "second"]
    # alerts from the topic's start: an episode may have fired long before the range
    assert [d["tag"] for d in docs.alerts] == ["old", "long-ago", "firing"]  # produce order
    assert [d["tag"] for d in docs.quality] == ["period"]
    assert docs.queues == []  # no queue declared: the topic is not read
    topics = [t for t, _, _ in calls]
    assert sorted(set(topics)) == sorted({TOPIC_INDICATORS, TOPIC_ALERTS, TOPIC_QUALITY})
    for topic in set(topics):
        last = [(d, n) for t, d, n in calls if t == topic][-1]
        assert last[0] == last[1]  # each topic read to its end

    calls.clear()
    queued = from_mapping({"broker_url": f"kafka://{kafka_bootstrap}",
                           "channels": {"phone": {"queues": {"billing": {}}}}}, env={})
    docs = read_documents(queued, frm, to, lambda t, d, n: calls.append((t, d, n)))
    assert sorted(d["tag"] for d in docs.queues) == ["q-backfill", "q-first"]
    assert sorted(d["tag"] for d in docs.indicators) == ["backfill", "first", "second"]
    assert {t for t, _, _ in calls} == {TOPIC_INDICATORS, TOPIC_ALERTS, TOPIC_QUALITY,
                                        TOPIC_QUEUES}
    last = [(d, n) for t, d, n in calls if t == TOPIC_QUEUES][-1]
    assert last[0] == last[1]  # the queues' topic read to its end
