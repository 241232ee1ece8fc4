"""``sqm worker``: the Kafka adapter around the pure core.

One consumer in the group reads the input topic and the partials topic. Each assigned partition
is a *task* with its own state (restored from its compacted changelog partition) and its own
transactional producer (``transactional.id`` = group/topic/partition, so a restarted or new owner
fences the old one). A batch of one partition is processed and then committed in one Kafka
transaction together with its outputs, its changelog entries and its consumer offset: after a
crash the state, the outputs and the position agree, so a restart neither loses nor repeats work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from monitor import topics
from monitor.config import Config
from monitor.core.aggregate import Aggregator, mark_value, partial_value, route
from monitor.core.params import Params
from monitor.core.partition import BatchResult, PartitionProcessor
from monitor.core.timefmt import parse_rfc3339_ms
from monitor.outbox import Outbox
from monitor.stats import Snapshot, Stats

log = logging.getLogger("sqm.worker")

MAX_BATCH_RECORDS = 20000


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class Task:
    tp: TopicPartition
    producer: AIOKafkaProducer
    stage_one: PartitionProcessor | None = None
    stage_two: Aggregator | None = None
    last_record_wall_ms: int = 0
    txn_since: float | None = None  # monotonic start of the open transaction, if one is open
    offset: int | None = None  # consumer offset to commit with the open transaction
    committing: asyncio.Task[None] | None = None  # a commit in flight, awaited before the next send


class Worker:
    """Runs until ``stop`` is set; state per owned partition, outputs in transactions."""

    def __init__(self, cfg: Config, *, client_id: str = "sqm-worker") -> None:
        self.cfg = cfg
        self.params = Params.from_config(cfg)
        self.bootstrap = cfg.bootstrap_servers
        self.client_id = client_id
        self.tasks: dict[TopicPartition, Task] = {}
        self.input_partitions = 0
        self.partials_partitions = 0
        self.partition_counts: dict[str, int] = {}
        self.stats = Stats(
            self.params.channels,
            [c.first_response_target_s for c in cfg.channels],
            [c.resolution_target_s for c in cfg.channels],
        )
        self._snapshot = Snapshot()
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None

    # --- public -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Latest published metrics snapshot (safe to call from the exporter thread)."""
        return self._snapshot

    async def run(self, stop: asyncio.Event) -> None:
        await self._discover_partitions()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.cfg.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self._consumer = consumer
        consumer.subscribe([topics.TOPIC_INPUT, topics.TOPIC_PARTIALS], listener=_Listener(self))
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=MAX_BATCH_RECORDS)
                async with self._lock:
                    await self._process(batch)
                    self._publish_snapshot()
        finally:
            async with self._lock:
                await self._drop_tasks(list(self.tasks))
            await consumer.stop()

    # --- set-up -------------------------------------------------------------------------------

    async def _discover_partitions(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            counts = {t: len(await producer.partitions_for(t)) for t in (
                topics.TOPIC_INPUT, topics.TOPIC_PARTIALS, topics.TOPIC_INTERACTIONS_CHANGELOG,
                topics.TOPIC_WINDOWS_CHANGELOG, topics.TOPIC_INDICATORS, topics.TOPIC_DEADLETTER)}
        finally:
            await producer.stop()
        self.partition_counts = counts
        self.input_partitions = counts[topics.TOPIC_INPUT]
        self.partials_partitions = counts[topics.TOPIC_PARTIALS]
        for changelog, source in ((topics.TOPIC_INTERACTIONS_CHANGELOG, topics.TOPIC_INPUT),
                                  (topics.TOPIC_WINDOWS_CHANGELOG, topics.TOPIC_PARTIALS)):
            if counts[changelog] != counts[source]:
                raise RuntimeError(
                    f"{changelog} has {counts[changelog]} partitions but {source} has "
                    f"{counts[source]}: they must match (see `sqm topics check`)")

    async def assign(self, partitions: Iterable[TopicPartition]) -> None:
        async with self._lock:
            new = sorted(tp for tp in partitions if tp not in self.tasks)
            # concurrently: each task's start is mostly broker round trips and its own restore
            for tp, task in zip(new, await asyncio.gather(*map(self._new_task, new)), strict=True):
                self.tasks[tp] = task
            self._publish_snapshot()

    async def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        async with self._lock:
            await self._drop_tasks([tp for tp in partitions if tp in self.tasks])
            self._publish_snapshot()

    async def _new_task(self, tp: TopicPartition) -> Task:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-{tp.topic}-{tp.partition}",
            transactional_id=f"{self.cfg.group_id}-{tp.topic}-{tp.partition}",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=512 * 1024,
            # Kafka 4 verifies that a partition joined the transaction before the first write
            # (KIP-890) and answers older clients with a retriable error until it has: retry
            # soon instead of after the default 100 ms, which idled the worker half the time.
            retry_backoff_ms=5,
        )
        await producer.start()  # fences any earlier owner and aborts its open transaction
        task = Task(tp, producer, last_record_wall_ms=_now_ms())
        if tp.topic == topics.TOPIC_INPUT:
            proc = PartitionProcessor(self.params, tp.topic, tp.partition, self.input_partitions)
            proc.restore(await self._read_changelog(topics.TOPIC_INTERACTIONS_CHANGELOG, tp.partition))
            task.stage_one = proc
        else:
            agg = Aggregator(self.params, tp.partition, self.partials_partitions, self.input_partitions)
            agg.restore(await self._read_changelog(topics.TOPIC_WINDOWS_CHANGELOG, tp.partition))
            task.stage_two = agg
        assert self._consumer is not None
        log.info("assigned %s-%d at offset %d", tp.topic, tp.partition,
                 await self._consumer.position(tp))
        return task

    async def _read_changelog(self, topic: str, partition: int) -> list[tuple[bytes, bytes | None]]:
        """Every committed record of one changelog partition, in order."""
        tp = TopicPartition(topic, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False,
            isolation_level="read_committed", group_id=None,
        )
        await consumer.start()
        out: list[tuple[bytes, bytes | None]] = []
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=50000)
                for rec in batch.get(tp, []):
                    out.append((rec.key, rec.value))
        finally:
            await consumer.stop()
        return out

    async def _drop_tasks(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            task = self.tasks.pop(tp)
            await self._settle(task)
            await self._commit(task)  # still the owner: finish the open transaction first
            await task.producer.stop()
            log.info("released %s-%d", tp.topic, tp.partition)

    # --- the loop -----------------------------------------------------------------------------

    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        now_ms = _now_ms()
        jobs = []
        for tp, task in self.tasks.items():
            records = batch.get(tp, [])
            if records:
                task.last_record_wall_ms = now_ms
            if task.stage_one is not None:
                jobs.append(self._run_stage_one(task, records, now_ms))
            else:  # also without records: the clock may let a held watermark go
                jobs.append(self._run_stage_two(task, records, now_ms))
        if jobs:
            await asyncio.gather(*jobs)
        # Commits run in the background: the broker finishes one while the next batch is
        # processed, and a task awaits its own commit only before it sends again (``_settle``).
        due = time.monotonic() - self.cfg.commit_interval_ms / 1000
        for t in self.tasks.values():
            if t.committing is None and t.txn_since is not None and t.txn_since <= due:
                t.committing = asyncio.create_task(self._commit(t))

    async def _settle(self, task: Task) -> None:
        """Wait for the task's commit in flight, if any (and raise what it raised)."""
        if task.committing is not None:
            committing, task.committing = task.committing, None
            await committing

    async def _begin(self, task: Task) -> None:
        """Open a transaction if none is open, once the previous commit has finished."""
        await self._settle(task)
        if task.txn_since is None:
            await task.producer.begin_transaction()
            task.txn_since = time.monotonic()

    async def _commit(self, task: Task) -> None:
        """Commit the task's open transaction: its outputs, changelog and consumer offset.

        Transactions stay open for ``commit_interval_ms`` across batches: a commit costs tens of
        milliseconds of broker round trips, far more than a live batch takes to process."""
        if task.txn_since is None:
            return
        if task.offset is not None:
            await task.producer.send_offsets_to_transaction({task.tp: task.offset},
                                                            self.cfg.group_id)
        await task.producer.commit_transaction()
        task.txn_since = None
        task.offset = None

    async def _caught_up(self, task: Task) -> bool:
        """Read up to the last stable offset. The consumer's own position counts, not the last
        record's offset: transaction markers take offsets that no record is delivered for."""
        assert self._consumer is not None
        lso = self._consumer.last_stable_offset(task.tp)
        return lso is not None and await self._consumer.position(task.tp) >= lso

    async def _run_stage_one(self, task: Task, records: list[Any], now_ms: int) -> None:
        proc = task.stage_one
        assert proc is not None
        idle = (now_ms - task.last_record_wall_ms >= self.params.idle_timeout_ms
                and await self._caught_up(task))
        result = proc.process(((r.offset, r.key, r.value) for r in records), now_ms, idle)
        if not (result.partials or result.deadletters or result.changelog or result.mark
                or result.forward or records):
            return
        await self._begin(task)
        await self._send_stage_one(task, result)
        if records:
            task.offset = records[-1].offset + 1
        self.stats.add_batch(result)

    async def _send_stage_one(self, task: Task, r: BatchResult) -> None:
        """One batch's outputs, in the task's open transaction."""
        p, src = task.producer, task.tp.partition
        out = Outbox(p, self.partition_counts)
        for key, value in r.deadletters:
            await out.add(topics.TOPIC_DEADLETTER, value, key=key)
        for owner, iid, raw in r.forward:  # re-keyed by interaction_id, to its owner
            await out.add(topics.TOPIC_INPUT, raw, key=iid, partition=owner)
        for (ch, w), acc in r.partials.items():
            await out.add(topics.TOPIC_PARTIALS, partial_value(src, ch, w, acc), key=ch.encode(),
                          partition=route(self.params, ch, self.partials_partitions))
        if r.mark is not None:  # after this partition's partials, on every partials partition
            value = mark_value(src, *r.mark)
            for q in range(self.partials_partitions):
                await out.add(topics.TOPIC_PARTIALS, value, partition=q)
        for key, val in r.changelog:
            await out.add(topics.TOPIC_INTERACTIONS_CHANGELOG, val, key=key, partition=src)
        await out.flush()

    async def _run_stage_two(self, task: Task, records: list[Any], now_ms: int) -> None:
        agg = task.stage_two
        assert agg is not None
        result = agg.process((r.value for r in records), now_ms)
        if not (records or result.records or result.changelog):
            return
        await self._begin(task)
        out = Outbox(task.producer, self.partition_counts)
        for ch, rec in result.records:
            await out.add(topics.TOPIC_INDICATORS, orjson.dumps(rec), key=ch.encode())
        for key, val in result.changelog:
            await out.add(topics.TOPIC_WINDOWS_CHANGELOG, val, key=key, partition=task.tp.partition)
        await out.flush()
        if records:
            task.offset = records[-1].offset + 1
        self.stats.add_late(result.late)

    # --- metrics ------------------------------------------------------------------------------

    def _publish_snapshot(self) -> None:
        waiting: dict[str, int] = {}
        open_: dict[str, int] = {}
        oldest: dict[str, int | None] = {}
        windows: dict[str, dict[str, Any]] = {}
        held = 0
        wms: list[int] = []
        assigned = {"interactions": 0, "aggregate": 0}
        for task in self.tasks.values():
            assigned["interactions" if task.stage_one is not None else "aggregate"] += 1
            if task.stage_one is not None:
                proc = task.stage_one
                held += proc.pending
                for ch in self.params.channels:
                    waiting[ch] = waiting.get(ch, 0) + proc.waiting[ch]
                    open_[ch] = open_.get(ch, 0) + proc.open[ch]
                    m = proc.waiting_since[ch].min()
                    cur = oldest.get(ch)
                    oldest[ch] = m if cur is None or (m is not None and m < cur) else cur
            if task.stage_two is not None:
                agg = task.stage_two
                for ch, rec in agg.latest.items():
                    windows[ch] = {**rec, "_end_ms": parse_rfc3339_ms(rec["window_end"])}
                g = agg.global_watermark(_now_ms())
                if g is not None:
                    wms.append(g)
        self._snapshot = self.stats.snapshot(
            backlog_waiting=waiting, backlog_open=open_, oldest_waiting_ts_ms=oldest,
            windows=windows, watermark_ms=min(wms) if wms else None, held=held,
            assigned=assigned,
        )


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partition changes to the worker; both wait for the batch in flight to commit."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.worker.revoke(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.worker.assign(assigned)
