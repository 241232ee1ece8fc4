"""Which alert transitions ``sqm.alerts.v1`` already holds: the check before re-publishing one.

The quality stage runs at least once (Faust without transactions). It saves an alert's state
before publishing the transition, so a crash in between leaves a transition that may or may not
have reached the topic. Only then (rare: a crash within milliseconds of a transition) it reads
the topic's tail and publishes what is missing, so a restart neither repeats a firing nor loses
a resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from monitor.contract.alerts import alert_id
from monitor.contract.timefmt import format_utc_s
from monitor.contract.topics import TOPIC_ALERTS
from monitor.domain.alerts import Transition
from monitor.kafka.security import ClientOptions

#: records read back per partition: transitions are rare, this spans weeks of them
TAIL = 5000

log = logging.getLogger("sqm.quality")

Ident = tuple[str, str, str, str]


def ident(t: Transition) -> Ident:
    """What makes a transition record unique: its episode, state, severity and period."""
    return (alert_id(t), t.state, t.severity,
            format_utc_s(t.window_start_ms))


def _ident_of(raw: bytes | None) -> Ident | None:
    try:
        d = orjson.loads(raw or b"")
        return (d["alert_id"], d["state"], d["severity"], d["window_start"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


async def _partitions(bootstrap: str, security: ClientOptions) -> list[int]:
    """The partitions of the alerts topic (a consumer without subscription has no metadata)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        # every topic: naming a missing one would make some brokers create it
        for meta in await admin.describe_topics():
            if meta.get("topic") == TOPIC_ALERTS and meta.get("error_code", 0) == 0:
                return sorted(int(p["partition"]) for p in meta.get("partitions", []))
    finally:
        await admin.close()
    return []


async def published(bootstrap: str, wanted: Iterable[Transition],
                    security: ClientOptions | None = None) -> set[Ident]:
    """The idents among ``wanted`` that the tail of ``sqm.alerts.v1`` already holds;
    ``security``: ``[kafka]``'s client options."""
    security = security or {}
    want = {ident(t) for t in wanted}
    found: set[Ident] = set()
    tps = [TopicPartition(TOPIC_ALERTS, p) for p in await _partitions(bootstrap, security)]
    if not tps:
        return found
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                **security)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - TAIL))
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for rec in batch.get(tp, []):
                    i = _ident_of(rec.value)
                    if i in want:
                        found.add(i)
    finally:
        await consumer.stop()
    log.info("re-publishing alert transitions: %d of %d already on %s", len(found), len(want),
             TOPIC_ALERTS)
    return found
