"""The local Kafka broker really works: create a topic, produce 3 records, consume them back."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

_VALUES = [b"sqm-0", b"sqm-1", b"sqm-2"]


async def _roundtrip(bootstrap: str) -> list[bytes]:
    topic = f"sqm-it-broker-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # The answer, not list_topics: the answering broker's metadata may learn of the topic
        # a moment later (CI once listed every topic but the new one); clients wait for it.
        response = await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        assert [(name, code) for name, code, *_ in response.topic_errors] == [(topic, 0)]

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
