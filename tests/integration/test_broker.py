"""The local Kafka broker really works: create a topic, produce 3 records, consume them back."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

_VALUES = [b"sqm-0", b"sqm-1", b"sqm-2"]


async def _until_listed(admin: AIOKafkaAdminClient, topic: str, deadline_s: float = 30.0) -> None:
    """Wait until the broker lists ``topic``.

    CreateTopics answers once the controller has the topic; the broker that answers the
    metadata request may learn of it a moment later (CI once listed every topic but the new one).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while topic not in await admin.list_topics():
        assert loop.time() < deadline, f"{topic} not listed after {deadline_s} s"
        await asyncio.sleep(0.05)


async def _roundtrip(bootstrap: str) -> list[bytes]:
    topic = f"sqm-it-broker-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        await _until_listed(admin, topic)

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for i, value in enumerate(_VALUES):
                await producer.send_and_wait(topic, value=value, key=str(i).encode())
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        received: list[bytes] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30.0
            while len(received) < len(_VALUES) and loop.time() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    received.extend(r.value for r in records if r.value is not None)
            await consumer.commit()
        finally:
            await consumer.stop()

        await admin.delete_topics([topic])
        return received
    finally:
        await admin.close()


def test_produce_and_consume_roundtrip(kafka_bootstrap: str) -> None:
    assert asyncio.run(_roundtrip(kafka_bootstrap)) == _VALUES
