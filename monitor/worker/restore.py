"""Reading a task's changelog partition back, and closing a transaction left hanging in it.

A broker that cannot find a partition's leader when it writes a transaction's markers (a
partition of a single broker, or of replication factor 1, while that broker shuts down or starts
up) completes the transaction without them: the records stay open, the partition's last stable
offset stays before them, and the next commit of the same producer commits them wholesale. A
task's changelog partition has one writer, its own transactional producer, so records above the
last stable offset once that producer has fenced the previous owner are such a transaction.
``commit_hanging`` commits them (the broker had completed the transaction, and the worker never
aborts one itself) on every partition the task writes, and the restore then resumes after them
(``monitor.state.changelog.OFFSET_KEY``) rather than at the committed consumer offset, whose
update in that transaction is as stuck as the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.state.changelog import Compacted


class HangingTransaction(Exception):
    """Records of an open transaction above a changelog partition's last stable offset."""

    def __init__(self, tp: TopicPartition, stable: int, high: int, bootstrap: str) -> None:
        self.tp, self.stable, self.high, self.bootstrap = tp, stable, high, bootstrap
        super().__init__(
            f"{tp.topic}-{tp.partition} holds an open transaction at offsets {stable}-{high - 1} "
            "that the worker cannot close (it committed its own): another producer writes to "
            "the changelog, or the broker refused the commit. Restoring now could count its "
            "input twice. Find and abort it with `kafka-transactions.sh --bootstrap-server "
            f"{bootstrap} find-hanging --broker-id <its leader>` and `... abort --topic <topic> "
            "--partition <p> --start-offset <o>` for each partition listed, then start the "
            "worker again")


async def read_changelog(bootstrap: str, security: dict[str, Any], tp: TopicPartition,
                         beat: Callable[[], None]) -> tuple[dict[bytes, bytes], int]:
    """The live records of one changelog partition (each key's latest committed value), kept
    as they are read so that memory holds the state, not the log; and how many were read.
    Raises ``HangingTransaction`` when records of an open transaction follow them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **security, enable_auto_commit=False,
        isolation_level="read_committed", group_id=None, fetch_max_wait_ms=50,
    )
    await consumer.start()
    kept = Compacted()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        stable = (await consumer.end_offsets([tp]))[tp]  # read_committed: the last stable offset
        while True:  # at least one fetch, which also tells the high watermark
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=50000)
            beat()  # a long restore is progress too
            for rec in batch.get(tp, []):
                kept.add(rec.key, rec.value)
            if await consumer.position(tp) >= stable:
                break
        high = consumer.highwater(tp)
    finally:
        await consumer.stop()
    if high is not None and high > stable:
        raise HangingTransaction(tp, stable, high, bootstrap)
    return kept.live, kept.read


async def commit_hanging(producer: AIOKafkaProducer, written: Iterable[TopicPartition]) -> None:
    """Commit whatever the task's producer left open on the partitions it writes: a transaction
    of its own that names them and writes nothing. Its commit markers close every open batch of
    the producer there, the earlier epoch's included."""
    await producer.begin_transaction()
    txn = producer._txn_manager  # aiokafka adds a partition to a transaction only on a send
    for tp in written:
        txn.maybe_add_partition_to_txn(tp)
    await producer.commit_transaction()
