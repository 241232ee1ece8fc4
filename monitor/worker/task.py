"""One assigned partition's transactional producer and its sender.

The loop only computes. Each task has a *sender* coroutine that writes the task's batches in
order and opens and commits its transactions: the producer has one batch per partition in
flight, so a loop that awaited its own sends waited a produce round trip per batch. Up to
``MAX_QUEUED_JOBS`` batches per task may queue; then the loop waits. A sender's failure stops
the worker: the loop raises it at the task's next ``submit``. A commit first checks that every
batch of the transaction was delivered: aiokafka would commit the rest without it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from monitor.worker.stage import Stage

MAX_QUEUED_JOBS = 4  # per task: batches processed but not yet handed to the producer

#: A sender job: writes one batch's outputs, or commits (a zero-argument coroutine function).
Job = Callable[[], Awaitable[None]]


class DeliveryFailed(Exception):
    """A batch of the open transaction was refused: committing the rest would lose it."""


@dataclass(slots=True)
class Task:
    tp: TopicPartition
    producer: AIOKafkaProducer
    group_id: str
    stage: Stage
    last_record_wall_ms: int = 0
    txn_since: float | None = None  # monotonic start of the open transaction, if one is open
    offset: int | None = None  # consumer offset to commit with the open transaction
    jobs: asyncio.Queue[Job | None] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUED_JOBS))
    sender: asyncio.Task[None] | None = None  # runs ``jobs`` in order (``_send_loop``)
    error: Exception | None = None  # what stopped the sender; the loop raises it
    commit_queued: bool = False
    #: delivery futures of the open transaction's batches (``Outbox``), checked at commit
    deliveries: list[asyncio.Future[Any]] = field(default_factory=list)
    #: monotonic times of the last commit the broker acknowledged and of the start of the
    #: commit under way, if any (for the worker's watchdog)
    committed_at: float = field(default_factory=time.monotonic)
    commit_started: float | None = None
    #: offset of the next record this task takes: records below it were fetched before a
    #: rebalance gave the partition back to this worker and come again from the committed offset
    next_offset: int = 0

    def start(self) -> None:
        self.sender = asyncio.create_task(self._send_loop())

    async def _send_loop(self) -> None:
        """Run the jobs in order until ``None``. After a failure the rest are dropped (the
        transaction is lost anyway) and the loop raises it at its next ``submit``."""
        while True:
            job = await self.jobs.get()
            if job is None:
                return
            if self.error is None:
                try:
                    await job()
                except Exception as exc:
                    self.error = exc

    def check(self) -> None:
        """Raise what stopped the sender, if anything did."""
        if self.error is not None:
            raise self.error

    async def submit(self, job: Job) -> None:
        """Queue a job for the sender; waits while ``MAX_QUEUED_JOBS`` are queued."""
        self.check()
        await self.jobs.put(job)

    async def commit_if_due(self, commit_interval_ms: int) -> None:
        """Queue a commit once the open transaction is ``commit_interval_ms`` old (a commit is
        a job like a batch: the sender runs it after the batches queued before it)."""
        due = time.monotonic() - commit_interval_ms / 1000
        if not self.commit_queued and self.txn_since is not None and self.txn_since <= due:
            self.commit_queued = True
            await self.submit(self.commit)

    async def begin(self) -> None:
        """Open a transaction if none is open (in the sender)."""
        if self.txn_since is None:
            await self.producer.begin_transaction()
            self.txn_since = time.monotonic()

    async def commit(self) -> None:
        """Commit the open transaction: its outputs, changelog and consumer offset.

        Transactions stay open for ``commit_interval_ms`` across batches: a commit costs tens of
        milliseconds of broker round trips, far more than a live batch takes to process."""
        self.commit_queued = False
        if self.txn_since is None:
            return
        self.commit_started = time.monotonic()
        try:
            await self._check_deliveries()
            if self.offset is not None:
                await self.producer.send_offsets_to_transaction({self.tp: self.offset},
                                                                self.group_id)
            await self.producer.commit_transaction()
        finally:
            self.commit_started = None
        self.txn_since = None
        self.offset = None
        self.committed_at = time.monotonic()

    async def _check_deliveries(self) -> None:
        """Wait for the transaction's batches; raise ``DeliveryFailed`` if one was refused (the
        transaction then stays open, and the next owner aborts it)."""
        pending, self.deliveries = self.deliveries, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise DeliveryFailed(
                f"{len(errors)} of {len(results)} record batches of the transaction of "
                f"{self.tp.topic}-{self.tp.partition} were not delivered ({errors[0]!r}); "
                "not committing it") from errors[0]

    async def close(self) -> None:
        """Still the owner: write what is queued and commit it, then stop the sender and the
        producer."""
        assert self.sender is not None
        try:
            await self.submit(self.commit)
            await self.jobs.put(None)
            await self.sender
            self.check()
        finally:
            self.sender.cancel()  # (done already, unless this failed)
            await self.producer.stop()
