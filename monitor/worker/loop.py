"""``sqm worker``: the Kafka adapter around the stages.

One consumer in the group reads the input topic and the partials topic. Each assigned partition
is a *task* (``task``) running a *stage* (``stage``: stage one, ``interactions``, on an input
partition; stage two, ``aggregate``, on a partials partition) with its own state (restored from
its compacted changelog partition) and its own transactional producer (``transactional.id`` =
group/topic/partition, so a restarted or new owner fences the old one). A task's batches are
written and committed by its sender in Kafka transactions that carry their outputs, changelog
entries and consumer offset, and stay open for ``commit_interval_ms`` across batches: after a
crash the state, the outputs and the position agree, so a restart neither loses nor repeats
work.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError

from monitor.config import Config, window_rules
from monitor.contract import topics
from monitor.domain.stream import watermark
from monitor.domain.stream.params import Params
from monitor.kafka.security import client_options
from monitor.metrics.health import Heartbeat, Readiness
from monitor.metrics.stats import Snapshot, Stats
from monitor.state.changelog import OFFSET_KEY, encode_offset, take_offset
from monitor.worker.aggregate import AggregateStage
from monitor.worker.interactions import InteractionsStage
from monitor.worker.outbox import Outbox
from monitor.worker.restore import HangingTransaction, commit_hanging, read_changelog
from monitor.worker.stage import Batch, Gauges, Stage
from monitor.worker.task import Task
from monitor.worker.watchdog import BrokerWatch

log = logging.getLogger("sqm.worker")

#: Records of one partition processed as one batch (one changelog entry, one set of partials).
#: The loop takes everything the consumer has fetched at once, then works through it in batches.
MAX_BATCH_RECORDS = 10000
#: A partition counts as read to its end only if the end came with a fetch response this
#: recent: during a broker outage the last known end is stale, and declaring the partition idle
#: then would finalise windows whose events are still waiting in the producers.
END_FRESH_MS = 3000
#: Longest the worker spends committing and leaving the group when it stops (SIGTERM, failure).
SHUTDOWN_TIMEOUT_S = 20.0


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()``, where a ``CancelledError`` that nobody asked for means stopped.

    aiokafka's fetcher cancels its pending fetches on close and awaits them; a fetch that lost
    its broker waits out its retry backoff unguarded, so the close re-raises that fetch's
    cancellation (aio-libs/aiokafka#983). Only a cancellation of the caller itself goes on."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.info("the consumer stopped with a cancelled fetch (no broker)")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _hard_exit(message: str) -> None:
    """The last resort of a worker that lost its broker: one line, then exit code 1."""
    log.error("worker stopped: %s", message)
    logging.shutdown()
    os._exit(1)


class Worker:
    """Runs until ``stop`` is set; state per owned partition, outputs in transactions."""

    def __init__(self, cfg: Config, params: Params, *, client_id: str = "sqm-worker",
                 on_idle: Callable[[], None] | None = None) -> None:
        self.cfg = cfg
        self.params = params
        #: the threshold alerts stage two evaluates on each final window
        self.rules = window_rules(cfg)
        self.bootstrap = cfg.bootstrap_servers
        #: ``[kafka]`` security options, the same for every client of the worker
        self.security = client_options(cfg.kafka)
        self.client_id = client_id
        self.tasks: dict[TopicPartition, Task] = {}
        self.input_partitions = 0
        self.partials_partitions = 0
        self.partition_counts: dict[str, int] = {}
        #: the stage of each topic the worker reads, by partition (``_discover_partitions``)
        self._stages: dict[str, Callable[[int], Stage]] = {}
        self.stats = Stats(
            cfg.queue_labels,
            [c.first_response_target_s for c in cfg.channels]
            + [q.first_response_target_s for c in cfg.channels for q in c.queues],
            [c.resolution_target_s for c in cfg.channels]
            + [q.resolution_target_s for c in cfg.channels for q in c.queues],
        )
        self._snapshot = Snapshot()
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        # aiokafka logs a rebalance listener's exception and carries on; the loop raises it
        # instead, so a failed restore stops the worker rather than leaving it with no partitions
        self.failure: Exception | None = None
        #: what ``/healthz`` and ``/readyz`` report: the loop's progress, the assignment's state
        self.heartbeat = Heartbeat()
        self.readiness = Readiness()
        #: called after a poll that found nothing (it limits its own cost)
        self._on_idle = on_idle

    # --- public -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Latest published metrics snapshot (safe to call from the exporter thread)."""
        return self._snapshot

    async def run(self, stop: asyncio.Event) -> None:
        await self._discover_partitions()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, **self.security,
            group_id=self.cfg.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self._consumer = consumer
        consumer.subscribe(list(self._stages), listener=_Listener(self))
        await consumer.start()
        watch = BrokerWatch(self.bootstrap, self.cfg.broker_timeout_s, self.tasks.values,
                            consumer.topics)
        main = asyncio.current_task()
        assert main is not None
        watchdog = asyncio.create_task(self._watch(watch, main))
        failing = True  # until the loop ends on ``stop``: then a failed shutdown is the error
        try:
            while not stop.is_set():
                if self.failure is not None:
                    raise self.failure
                # everything fetched: with one broker, aiokafka sends no new fetch while any
                # fetched record is still unconsumed, so taking part of it stalls the next one
                batch = await consumer.getmany(timeout_ms=100)
                async with self._lock:
                    await self._process(batch)
                    await self._publish_snapshot()
                self.heartbeat.beat()
                if not batch and self._on_idle is not None:
                    self._on_idle()
            failing = False
        except asyncio.CancelledError:
            if self.failure is None:
                raise
            main.uncancel()  # cancelled by the watchdog: stop with its message instead
            raise self.failure from None
        finally:
            watchdog.cancel()
            self.readiness.not_ready("stopping")
            await self._shut_down(consumer, failing or self.failure is not None)

    async def _watch(self, watch: BrokerWatch, main: asyncio.Task[Any]) -> None:
        """Stops the loop (wherever it waits) once the broker has been gone too long. Without a
        broker, aiokafka's clients may not stop at all: a timer thread ends the process if the
        orderly stop has not within ``SHUTDOWN_TIMEOUT_S``."""
        self.failure = lost = await watch.run()
        timer = threading.Timer(SHUTDOWN_TIMEOUT_S + 5, _hard_exit, [str(lost)])
        timer.daemon = True
        timer.start()
        main.cancel()

    async def _shut_down(self, consumer: AIOKafkaConsumer, failing: bool) -> None:
        """Commit what the tasks hold and leave the group (the others take over at once),
        within ``SHUTDOWN_TIMEOUT_S``: without a broker, a commit would wait for ever. When the
        loop is already failing, its error is the one reported: a shutdown that fails for the
        same cause is only logged."""
        async def release() -> None:
            try:
                async with self._lock:
                    await self._drop_tasks(list(self.tasks))
            finally:
                await stop_consumer(consumer)

        step = asyncio.ensure_future(release())
        done, _ = await asyncio.wait({step}, timeout=SHUTDOWN_TIMEOUT_S)
        if not done:  # not awaited further: a client without its broker may never stop
            log.warning("could not commit and leave the group within %g s; stopping anyway",
                        SHUTDOWN_TIMEOUT_S)
            step.cancel()
        elif not failing:
            step.result()
        elif not step.cancelled() and step.exception() is not None:
            log.warning("shutdown after the failure did not complete either: %s",
                        step.exception())

    # --- set-up -------------------------------------------------------------------------------

    async def _discover_partitions(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **self.security)
        await producer.start()
        try:
            counts = {t: len(await producer.partitions_for(t)) for t in (
                topics.TOPIC_INPUT, topics.TOPIC_PARTIALS, topics.TOPIC_INTERACTIONS_CHANGELOG,
                topics.TOPIC_WINDOWS_CHANGELOG, topics.TOPIC_INDICATORS, topics.TOPIC_QUEUES,
                topics.TOPIC_DEADLETTER,
                topics.TOPIC_ALERTS)}
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
        n_in, n_partials = self.input_partitions, self.partials_partitions
        self._stages = {
            topics.TOPIC_INPUT: lambda p: InteractionsStage(self.params, p, n_in, n_partials,
                                                            self.stats),
            topics.TOPIC_PARTIALS: lambda p: AggregateStage(self.params, self.rules, p, n_partials,
                                                            n_in, self.stats),
        }

    async def assign(self, partitions: Iterable[TopicPartition]) -> None:
        async with self._lock:
            new = sorted(tp for tp in partitions if tp not in self.tasks)
            self.readiness.not_ready(f"restoring the state of {len(new)} partitions")
            # concurrently: each task's start is mostly broker round trips and its own restore
            for tp, task in zip(new, await asyncio.gather(*map(self._new_task, new)), strict=True):
                self.tasks[tp] = task
            await self._publish_snapshot()
            self.readiness.ready()

    async def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        self.readiness.not_ready("rebalancing: waiting for the new assignment")
        async with self._lock:
            await self._drop_tasks([tp for tp in partitions if tp in self.tasks])
            await self._publish_snapshot()

    async def _new_task(self, tp: TopicPartition) -> Task:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, **self.security,
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
        committed = await self._seek_committed(tp)
        stage = self._stages[tp.topic](tp.partition)
        task = Task(tp, producer, self.cfg.group_id, stage, last_record_wall_ms=_now_ms())
        task.start()
        live = await self._restore(task)
        recorded = take_offset(live)
        stage.restore(live)
        self.stats.restored += stage.pending  # consumed by an earlier owner, waiting here now
        assert self._consumer is not None
        task.next_offset = committed or 0
        if recorded is not None and recorded > task.next_offset:  # see _restore
            self._consumer.seek(tp, recorded)
            task.next_offset = recorded
        log.info("assigned %s-%d at offset %d", tp.topic, tp.partition,
                 await self._consumer.position(tp))
        return task

    async def _seek_committed(self, tp: TopicPartition) -> int | None:
        """Resume at the offset the partition's last transaction committed, read only now.

        The consumer may have fetched the committed offset when the group assigned the
        partition, while the earlier owner's last transaction was still completing (after a
        broker restart, its commit markers come late): that offset was the one before it, and
        re-reading from there on top of the changelog restored below counts the transaction's
        input twice (stage two has no event ids to drop them by). ``producer.start()`` has by
        now completed or aborted that transaction, so the offset read here matches the
        changelog."""
        assert self._consumer is not None
        committed: int | None = await self._consumer.committed(tp)
        if committed is not None:
            self._consumer.seek(tp, committed)
        return committed

    async def _restore(self, task: Task) -> dict[bytes, bytes]:
        """The live records of the task's changelog partition. If the task's producer left a
        transaction there that the broker completed without its markers (``restore``), commit
        it on every partition the task writes and read again: the state then includes it, and
        the task resumes after its input (the offset recorded with it), not at the committed
        consumer offset, whose update it holds too."""
        tp = TopicPartition(task.stage.changelog, task.tp.partition)
        try:
            live, read = await read_changelog(self.bootstrap, self.security, tp, self.heartbeat.beat)
        except HangingTransaction as exc:
            log.warning("%s-%d holds records of an earlier transaction of this partition's "
                        "producer at offsets %d-%d that the broker completed without writing its "
                        "markers (a controlled shutdown or a start-up without the partition's "
                        "leader): committing them, and resuming after their input",
                        tp.topic, tp.partition, exc.stable, exc.high - 1)
            await commit_hanging(task.producer, self._written(task))
            live, read = await read_changelog(self.bootstrap, self.security, tp, self.heartbeat.beat)
        log.info("restored %s-%d: %d live keys of %d records read", tp.topic, tp.partition,
                 len(live), read)
        return live

    def _written(self, task: Task) -> list[TopicPartition]:
        """Every partition a task writes to (its transactions may name any of them)."""
        own = TopicPartition(task.stage.changelog, task.tp.partition)
        return [own] + [TopicPartition(t, p) for t in task.stage.written()
                        for p in range(self.partition_counts[t])]

    async def _drop_tasks(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            task = self.tasks.pop(tp)
            self.stats.handed_over += task.stage.pending  # they go to the next owner
            await task.close()
            log.info("released %s-%d", tp.topic, tp.partition)

    # --- the loop -----------------------------------------------------------------------------

    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        now_ms = _now_ms()
        for tp, task in list(self.tasks.items()):
            task.check()  # raised here too, in case nothing more is submitted
            records = batch.get(tp, [])
            if records and records[0].offset < task.next_offset:
                # fetched before a rebalance that gave tp back to this worker (between the fetch
                # and this lock): the consumer reads them again from the committed offset, so
                # take each offset once (stage two has no event ids to drop a second copy by)
                records = [r for r in records if r.offset >= task.next_offset]
            if records:
                task.last_record_wall_ms = now_ms
                task.next_offset = records[-1].offset + 1
            # also without records: the clock may let a held watermark go
            for i in range(0, max(len(records), 1), MAX_BATCH_RECORDS):
                await self._run(task, records[i:i + MAX_BATCH_RECORDS], now_ms)
                await task.commit_if_due(self.cfg.commit_interval_ms)
                # between batches: the senders send and the consumer fetches the next records
                await asyncio.sleep(0)

    async def _caught_up(self, task: Task) -> bool:
        """Read up to the last stable offset, known from a recent fetch (``END_FRESH_MS``). The
        consumer's own position counts, not the last record's offset: transaction markers take
        offsets that no record is delivered for."""
        assert self._consumer is not None
        lso = self._consumer.last_stable_offset(task.tp)
        if lso is None or await self._consumer.position(task.tp) < lso:
            return False
        polled: int | None = self._consumer.last_poll_timestamp(task.tp)  # wall clock, ms
        return polled is not None and _now_ms() - polled <= END_FRESH_MS

    async def _run(self, task: Task, records: list[Any], now_ms: int) -> None:
        idle = (watermark.idle_due(now_ms, task.last_record_wall_ms, self.params.idle_timeout_ms)
                and await self._caught_up(task))
        batch = task.stage.process(records, now_ms, idle)
        if batch is None:
            return
        offset = records[-1].offset + 1 if records else None
        await task.submit(partial(self._send, task, batch, offset))

    async def _send(self, task: Task, batch: Batch, offset: int | None) -> None:
        """One batch's outputs and changelog records, and where the partition resumes, in the
        task's open transaction (a sender job)."""
        await task.begin()
        out = Outbox(task.producer, self.partition_counts, task.deliveries)
        for o in batch.outputs():
            await out.add(o.topic, o.value, key=o.key, partition=o.partition)
        if offset is not None:  # where the partition resumes, with the state it resumes from
            await out.add(task.stage.changelog, encode_offset(offset), key=OFFSET_KEY,
                          partition=task.tp.partition)
        await out.flush()
        if offset is not None:
            task.offset = offset
        batch.written()

    # --- metrics ------------------------------------------------------------------------------

    async def _publish_snapshot(self) -> None:
        now_ms = _now_ms()
        gauges = Gauges()
        assigned = {"interactions": 0, "aggregate": 0}
        lag = {"interactions": 0, "aggregate": 0}
        for task in self.tasks.values():
            assigned[task.stage.name] += 1
            lag[task.stage.name] += await self._lag(task)
            task.stage.snapshot(gauges, now_ms)
        wms = gauges.watermarks_ms
        self._snapshot = self.stats.snapshot(
            backlog_waiting=gauges.waiting, backlog_open=gauges.open,
            oldest_waiting_ts_ms=gauges.oldest_waiting_ts_ms, windows=gauges.latest,
            alerts=gauges.alerts, watermark_ms=min(wms) if wms else None, held=gauges.held,
            interactions=gauges.interactions, assigned=assigned, consumer_lag=lag,
        )

    async def _lag(self, task: Task) -> int:
        """Offsets of the task's partition not consumed yet, up to the last stable offset (what a
        read-committed consumer can read). The consumer's position is known once assigned, so
        asking for it costs no round trip."""
        if self._consumer is None:
            return 0
        end: int | None = self._consumer.last_stable_offset(task.tp)
        if end is None:
            return 0
        try:
            position: int = await self._consumer.position(task.tp)
        except IllegalStateError:  # being revoked
            return 0
        return max(0, end - position)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partition changes to the worker. A revocation first commits what the revoked
    tasks have queued; an assignment restores the new tasks' state before the loop goes on."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        try:
            await self.worker.revoke(revoked)
        except Exception as exc:
            self.worker.failure = exc

    async def on_partitions_assigned(self, assigned: Any) -> None:
        try:
            await self.worker.assign(assigned)
        except Exception as exc:
            self.worker.failure = exc
