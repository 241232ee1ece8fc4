"""A worker that can no longer write exits (non-zero, so a supervisor restarts it); it must not
hang with its partitions. Its writes and commits run in per-partition sender coroutines, so this
checks that their failures reach the loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from harness import WorkerProcess, poll, produce, reset_topics, write_config
from kafka_broker import free_port

from monitor.contract.topics import TOPIC_INPUT


def _events(prefix: str, n: int) -> list[tuple[bytes | None, bytes]]:
    ts = int(time.time() * 1000) - 60_000
    return [(f"{prefix}{i}".encode(), orjson.dumps({
        "event_id": f"{prefix}{i}-o", "interaction_id": f"{prefix}{i}", "channel": "chat",
        "type": "opened", "ts": ts + i})) for i in range(n)]


async def _fence(bootstrap: str, transactional_ids: list[str]) -> None:
    """Start producers with the worker's transactional ids: each bumps the epoch, so the
    worker's own producers are fenced (what a second owner of the same partition does)."""
    for tid in transactional_ids:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=tid,
                             enable_idempotence=True)
        await p.start()
        await p.stop()


def test_a_fenced_worker_exits_instead_of_hanging(kafka_bootstrap: str, tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    group = f"it-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, group, idle_timeout_s=2)
    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    consumed = ("sqm_records_consumed_total", ())
    try:
        produce(kafka_bootstrap, _events("a", 40))
        poll(lambda: (worker.try_metrics() or {}).get(consumed, 0) >= 40, 120,
             "the worker to consume the first events")
        asyncio.run(_fence(kafka_bootstrap, [f"{group}-{TOPIC_INPUT}-{p}" for p in range(4)]))
        produce(kafka_bootstrap, _events("b", 40))
        poll(lambda: not worker.alive(), 120, "the fenced worker to exit")
        assert worker.proc.returncode == 1, worker.log_tail()
        assert "worker stopped" in worker.log_tail()
    finally:
        worker.stop()
