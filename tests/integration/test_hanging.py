"""A changelog partition with a transaction the worker cannot close: it stops with one message
saying how to abort it, and restores once it is gone.

The worker commits an open transaction of its own partition's producer that a broker completed
without writing its markers (``monitor/worker/restore.py``); the outage test meets that case when
the broker stops while the worker commits. What remains open after that belongs to someone
else: here a producer of the test's own, left open on the changelog partition.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from harness import WorkerProcess, poll, reset_topics, write_config
from kafka_broker import free_port

from monitor.contract.topics import TOPIC_INTERACTIONS_CHANGELOG
from monitor.worker.watchdog import RESTART_NOTE


async def _open(bootstrap: str, txn_id: str) -> AIOKafkaProducer:
    """A producer with one record sent to changelog partition 0 in a transaction left open."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id)
    await producer.start()
    await producer.begin_transaction()
    await producer.send_and_wait(TOPIC_INTERACTIONS_CHANGELOG, b"{}", key=b"x", partition=0)
    return producer


async def _abort(producer: AIOKafkaProducer) -> None:
    await producer.abort_transaction()
    await producer.stop()


def test_a_changelog_with_an_open_transaction_stops_the_worker_with_the_remedy(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, f"it-{uuid.uuid4().hex[:8]}")
    loop = asyncio.new_event_loop()
    producer = loop.run_until_complete(_open(kafka_bootstrap, f"test-{uuid.uuid4().hex[:8]}"))
    try:
        worker = WorkerProcess(cfg, free_port(), tmp_path / "worker1.log")
        poll(lambda: not worker.alive(), 90, "the worker to stop")
        assert worker.proc.returncode == 1, worker.log_tail()
        stopped = [ln for ln in worker.log_tail().splitlines() if "worker stopped" in ln]
        assert len(stopped) == 1, worker.log_tail()
        # first taken for its own producer's, and committed (a marker of its own at offset 1)
        assert (f"{TOPIC_INTERACTIONS_CHANGELOG}-0 holds records of an earlier transaction of this "
                "partition's producer at offsets 0-0") in worker.log_tail()
        assert (f"worker stopped: {TOPIC_INTERACTIONS_CHANGELOG}-0 holds an open transaction at "
                "offsets 0-1 that the worker cannot close") in stopped[0], stopped
        assert f"kafka-transactions.sh --bootstrap-server {kafka_bootstrap} find-hanging" \
            in stopped[0], stopped
        assert "Traceback" not in worker.log.read_text(errors="replace")
        assert RESTART_NOTE not in stopped[0]  # not a restart that helps by itself
    finally:
        loop.run_until_complete(_abort(producer))
        loop.close()

    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker2.log")  # once it is aborted
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "interactions"),))) == 4, 90,
            "the worker to restore every partition")
    finally:
        assert worker.stop() == 0, worker.log_tail()
