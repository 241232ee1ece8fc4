"""Helpers for end-to-end tests: fresh topics, real worker processes, topic reads, scrapes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from monitor.contract.partitioner import partition_for
from monitor.contract.topics import TOPIC_INPUT, load_definitions
from monitor.kafka.admin import TopicsError, apply
from monitor.metrics.watch import Samples, scrape

T = TypeVar("T")

#: A ``/metrics`` scrape: ``{(sample name, sorted labels): value}``.


def ticks(name: str, t: int, partitions: int, channel: str = "phone") -> list[dict[str, Any]]:
    """An ``opened`` at ``t`` in every one of ``partitions`` input partitions (ids found by the
    partitioner), so that every partition's watermark reaches ``t``."""
    out: list[dict[str, Any]] = []
    for part in range(partitions):
        i = 0
        while partition_for(f"{name}-{part}-{i}", partitions) != part:
            i += 1
        iid = f"{name}-{part}-{i}"
        out.append({"event_id": iid, "interaction_id": iid, "channel": channel,
                    "type": "opened", "ts": t})
    return out


def poll(check: Callable[[], T | None], deadline_s: float, what: str, every_s: float = 0.25) -> T:
    """Call ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(every_s)


async def _reset(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [d.name for d in load_definitions()]
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
        for _ in range(200):
            if not set(await admin.list_topics()) & set(names):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for _ in range(50):  # a deleted topic may take a moment before it can be created again
        try:
            statuses = await apply(bootstrap, load_definitions())
            assert all(s.status == "created" for s in statuses), statuses
            return
        except TopicsError:
            await asyncio.sleep(0.2)
    raise AssertionError("could not recreate the topics")


def reset_topics(bootstrap: str) -> None:
    """Delete and recreate every sqm topic, so each test starts from an empty cluster."""
    asyncio.run(_reset(bootstrap))


def write_config(path: Path, bootstrap: str, group: str, **extra: str | int | float | bool) -> Path:
    lines = [f'broker_url = "kafka://{bootstrap}"', f'group_id = "{group}"']
    lines += [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def stop_process(proc: subprocess.Popen[bytes], log: IO[bytes], timeout_s: float) -> int:
    """SIGTERM, up to ``timeout_s`` for a clean exit, then SIGKILL; closes the process's log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    return proc.returncode


class SqmProcess:
    """An ``sqm`` command as a real child process with its own metrics port."""

    command = "worker"

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._fh = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), self.command,
             "--metrics-port", str(port)],
            stdout=self._fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def metrics(self) -> Samples:
        """Scrape ``/metrics``: ``{(sample name, sorted labels): value}``."""
        return scrape(f"http://127.0.0.1:{self.port}/metrics", timeout_s=5)

    def try_metrics(self) -> Samples | None:
        try:
            return self.metrics()
        except OSError:
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._fh.close()

    def stop(self) -> int:
        return stop_process(self.proc, self._fh, 60)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def _produce(bootstrap: str, items: list[tuple[bytes | None, bytes]], rate: float | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, enable_idempotence=True)
    await producer.start()
    try:
        start = time.monotonic()
        for i, (key, value) in enumerate(items):
            if rate is not None and i % 100 == 0:
                ahead = i / rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await producer.send(TOPIC_INPUT, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, items: list[tuple[bytes | None, bytes]], rate: float | None = None) -> None:
    asyncio.run(_produce(bootstrap, items, rate))


async def _read(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: list[tuple[bytes | None, bytes]] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            # aiokafka has no public way to refresh a consumer's metadata
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=500)
                out.extend((r.key, r.value) for r in batch.get(tp, []))
    finally:
        await consumer.stop()
    return out


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every committed record of ``topic`` (all partitions)."""
    return asyncio.run(_read(bootstrap, topic))


def read_json(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _k, v in read_topic(bootstrap, topic)]


class WorkerProcess(SqmProcess):
    """``sqm worker``."""


class QualityProcess(SqmProcess):
    """``sqm quality``."""

    command = "quality"
