"""``monitor.kafka.reader`` on the real broker: seek by timestamp, read to the end offsets taken at
the start (even while a producer keeps writing), committed records only, progress to the end."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.contract.timefmt import format_utc_s
from monitor.kafka.reader import Record, in_event_range, read_range, read_range_sync

PARTITIONS = 3
PER_PARTITION = 20
STEP_MS = 1000


@asynccontextmanager
async def _topic(bootstrap: str, partitions: int = PARTITIONS) -> AsyncIterator[str]:
    """A fresh topic, deleted afterwards."""
    name = f"sqm-it-reader-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def _value(partition: int, i: int, event_ms: int) -> bytes:
    return orjson.dumps({"p": partition, "i": i, "window_start": format_utc_s(event_ms)})


def _ids(records: list[Record]) -> set[tuple[int, int]]:
    docs = [orjson.loads(r.value) for r in records]
    return {(d["p"], d["i"]) for d in docs}


async def _produce_timed(bootstrap: str, topic: str, base_ms: int) -> None:
    """Record ``i`` of partition ``p`` is produced at ``base_ms + i * STEP_MS``, same event time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for p in range(PARTITIONS):
            for i in range(PER_PARTITION):
                t = base_ms + i * STEP_MS
                await producer.send(topic, _value(p, i, t), key=b"k", partition=p, timestamp_ms=t)
        await producer.flush()
    finally:
        await producer.stop()


def test_a_range_read_starts_at_from_minus_slack_and_reads_everything_after(kafka_bootstrap: str) -> None:
    async def scenario() -> tuple[int, list[Record], list[Record], list[Record], list[tuple[int, int]]]:
        async with _topic(kafka_bootstrap) as topic:
            base = int(time.time() * 1000) // 1000 * 1000 - 3_600_000
            await _produce_timed(kafka_bootstrap, topic, base)
            calls: list[tuple[int, int]] = []
            # seek to base + 7 s: records 7.. of each partition; 3.5 s of slack before 10.5 s
            got = await read_range(kafka_bootstrap, topic, base + 10_500, base + 15_000, slack_ms=3_500,
                                   progress=lambda d, t: calls.append((d, t)))
            filtered = await read_range(kafka_bootstrap, topic, base + 10_500, base + 15_000,
                                        slack_ms=3_500, event_time=True)
            everything = await read_range(kafka_bootstrap, topic, base + 10_500, base + 15_000,
                                          slack_ms=0, from_beginning=True)
            late = await read_range(kafka_bootstrap, topic, base + 3_600_000, base + 3_700_000, slack_ms=0)
            assert late == []
            return base, got, filtered, everything, calls

    base, got, filtered, everything, calls = asyncio.run(scenario())
    assert len(got) == len(_ids(got)) == PARTITIONS * (PER_PARTITION - 7)
    assert _ids(got) == {(p, i) for p in range(PARTITIONS) for i in range(7, PER_PARTITION)}
    assert _ids(filtered) == {(p, i) for p in range(PARTITIONS) for i in range(11, 15)}
    assert _ids(in_event_range(got, 0, 2**62)) == _ids(got)
    assert len(everything) == PARTITIONS * PER_PARTITION
    total = PARTITIONS * (PER_PARTITION - 7)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total and 0 <= d <= t for d, t in calls)
    assert [d for d, _t in calls] == sorted(d for d, _t in calls)
    for k, v, ts in got:  # unpacks as (key, value, Kafka timestamp)
        assert k == b"k" and ts == base + orjson.loads(v)["i"] * STEP_MS


def test_a_backfill_produced_now_is_found_by_its_event_time(kafka_bootstrap: str) -> None:
    """An old window produced now: Kafka's timestamp is after the range, the event time inside."""

    old = int(time.time() * 1000) // 1000 * 1000 - 86_400_000
    topic = f"sqm-it-reader-{uuid.uuid4().hex[:12]}"

    async def backfill() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:  # produced now (Kafka timestamp: now), windows of a day ago
            await producer.send_and_wait(topic, _value(0, 1, old + 60_000), partition=0)
            await producer.send_and_wait(topic, _value(0, 2, old - 60_000), partition=0)
        finally:
            await producer.stop()

    asyncio.run(backfill())
    got = read_range_sync(kafka_bootstrap, topic, old, old + 3_600_000, slack_ms=0)
    assert _ids(got) == {(0, 1), (0, 2)}
    assert _ids(in_event_range(got, old, old + 3_600_000)) == {(0, 1)}
    filtered = read_range_sync(kafka_bootstrap, topic, old, old + 3_600_000, slack_ms=0, event_time=True)
    assert filtered == in_event_range(got, old, old + 3_600_000)


def test_the_read_stops_at_the_end_offsets_taken_at_its_start(kafka_bootstrap: str) -> None:
    async def scenario() -> tuple[int, list[Record], int, int, bool]:
        async with _topic(kafka_bootstrap) as topic:
            base = int(time.time() * 1000) - 600_000
            await _produce_timed(kafka_bootstrap, topic, base)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks=1, linger_ms=0)
            await producer.start()
            written = 0
            stop, live = asyncio.Event(), asyncio.Event()

            async def keep_writing() -> None:
                nonlocal written
                while not stop.is_set():
                    for p in range(PARTITIONS):
                        await producer.send_and_wait(topic, _value(p, 1000 + written, base), partition=p)
                    written += 1
                    if written >= 20:  # the topic is live before the read starts
                        live.set()

            writer = asyncio.create_task(keep_writing())
            try:
                await asyncio.wait_for(live.wait(), 10)
                calls: list[tuple[int, int]] = []
                got = await read_range(kafka_bootstrap, topic, base, base, slack_ms=0,
                                       progress=lambda d, t: calls.append((d, t)))
                still_writing = not writer.done()
                at_return = written
                await asyncio.sleep(0.2)  # and it keeps going after the read returned
            finally:
                stop.set()
                await writer
                await producer.stop()
            return calls[0][1], got, at_return, written, still_writing

    total, got, at_return, written, still_writing = asyncio.run(scenario())
    assert still_writing
    assert written > at_return
    assert len(got) == total  # exactly the offsets that existed when the read started
    assert total < PARTITIONS * (PER_PARTITION + written)
    ids = _ids(got)
    assert {(p, i) for p in range(PARTITIONS) for i in range(PER_PARTITION)} <= ids
    for p in range(PARTITIONS):  # the live records read are a prefix of each partition's
        live = sorted(i - 1000 for q, i in ids if q == p and i >= 1000)
        assert live == list(range(len(live)))


def test_only_committed_transactions_are_read(kafka_bootstrap: str) -> None:
    async def scenario() -> tuple[list[Record], list[tuple[int, int]]]:
        async with _topic(kafka_bootstrap) as topic:
            base = int(time.time() * 1000) - 600_000
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap,
                                        transactional_id=f"{topic}-tx", enable_idempotence=True)
            await producer.start()
            try:
                for n, commit in enumerate([True, False, True, False]):  # ends on an abort
                    await producer.begin_transaction()
                    for p in range(PARTITIONS):
                        for j in range(5):
                            i = n * 100 + j
                            await producer.send_and_wait(topic, _value(p, i, base), partition=p,
                                                         timestamp_ms=base + i)
                    if commit:
                        await producer.commit_transaction()
                    else:
                        await producer.abort_transaction()
            finally:
                await producer.stop()
            calls: list[tuple[int, int]] = []
            got = await read_range(kafka_bootstrap, topic, base, base, slack_ms=1000,
                                   progress=lambda d, t: calls.append((d, t)))
            return got, calls

    got, calls = asyncio.run(scenario())
    committed = {(p, n * 100 + j) for p in range(PARTITIONS) for n in (0, 2) for j in range(5)}
    assert _ids(got) == committed and len(got) == len(committed)
    total = calls[-1][1]
    assert total == PARTITIONS * 4 * 6  # 4 transactions of 5 records and a marker per partition
    assert calls[-1] == (total, total)
