"""``/healthz`` and ``/readyz`` of a real ``sqm worker`` and ``sqm quality`` on the real broker.

The worker's "not ready before its assignment" is made deterministic: a plain consumer of the
same group holds the rebalance that the worker's join starts (its revocation callback waits),
so the worker sits in the join for as long as the test wants to look at it.
"""

from __future__ import annotations

import asyncio
import threading
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from harness import QualityProcess, WorkerProcess, poll, reset_topics, write_config
from kafka_broker import free_port

from monitor.contract.topics import TOPIC_INPUT, TOPIC_PARTIALS

TOPICS_TOML = Path(__file__).resolve().parents[2] / "monitor" / "topics" / "topics.toml"


def partitions(name: str) -> int:
    """The partition count ``sqm topics apply`` gives ``name``, read from the definitions."""
    (t,) = [t for t in tomllib.loads(TOPICS_TOML.read_text())["topics"] if t["name"] == name]
    return int(t["partitions"])


def probe(port: int, path: str) -> tuple[int, str] | None:
    """(status, body) of a GET, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


class HoldingMember:
    """A consumer in the worker's group whose revocation callback waits until ``release``:
    while it waits, the group's rebalance cannot complete and a joining worker gets nothing."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.assigned = threading.Event()
        self.holding = threading.Event()
        self._release = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(bootstrap, group),),
                                        daemon=True)
        self._thread.start()

    async def _run(self, bootstrap: str, group: str) -> None:
        member = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                if member.assigned.is_set():
                    member.holding.set()
                    await asyncio.to_thread(member._release.wait)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                if assigned:
                    member.assigned.set()

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                    enable_auto_commit=False, max_poll_interval_ms=300_000)
        consumer.subscribe([TOPIC_INPUT, TOPIC_PARTIALS], listener=Listener())
        await consumer.start()
        try:
            while not self._stop.is_set():
                await consumer.getmany(timeout_ms=100)
        finally:
            await consumer.stop()

    def release(self) -> None:
        self._release.set()

    def leave(self) -> None:
        self._release.set()
        self._stop.set()
        self._thread.join(timeout=60)


def test_worker_is_not_ready_until_assigned_and_restored_and_live_throughout(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    group = f"it-probes-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, group, metrics_bind="127.0.0.1")
    holder = HoldingMember(kafka_bootstrap, group)
    worker: WorkerProcess | None = None
    try:
        assert holder.assigned.wait(120), "the holding member got no partitions"
        port = free_port()
        worker = WorkerProcess(cfg, port, tmp_path / "worker.log")
        poll(lambda: probe(port, "/readyz"), 120, "the worker's endpoint")
        assert holder.holding.wait(120), "the worker's join started no rebalance"
        # the rebalance is held: the worker has no assignment, however long we look
        for _ in range(3):
            seen = probe(port, "/readyz")
            assert seen is not None and seen[0] == 503, seen
            assert seen[1] in ("waiting for the first partition assignment\n",
                               "rebalancing: waiting for the new assignment\n"), seen
            assert probe(port, "/healthz") == (200, "ok\n"), worker.log_tail()
        holder.release()
        poll(lambda: probe(port, "/readyz") == (200, "ok\n"), 120, "the worker to be ready")
        holder.leave()  # the worker takes every partition over: not ready while it restores them
        total = {"interactions": partitions(TOPIC_INPUT), "aggregate": partitions(TOPIC_PARTIALS)}

        def owns_all() -> bool:
            m = worker.try_metrics() if worker is not None else None
            return m is not None and all(
                m.get(("sqm_assigned_partitions", (("stage", s),))) == n for s, n in total.items())

        poll(owns_all, 120, "the worker to own every partition")
        assert probe(port, "/readyz") == (200, "ok\n")
        assert probe(port, "/healthz") == (200, "ok\n")
        assert worker.alive()
        assert worker.stop() == 0, worker.log_tail()
    finally:
        holder.leave()
        if worker is not None:
            worker.stop()


def test_quality_stage_is_ready_once_its_tables_are_recovered(kafka_bootstrap: str,
                                                              tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    group = f"it-probes-q-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, group, metrics_bind="127.0.0.1")
    port = free_port()
    stage = QualityProcess(cfg, port, tmp_path / "quality.log")
    try:
        statuses: list[tuple[int, str]] = []

        def ready() -> bool:
            r = probe(port, "/readyz")
            if r is not None:
                statuses.append(r)
                assert probe(port, "/healthz") == (200, "ok\n"), stage.log_tail()
            return r == (200, "ok\n")

        poll(ready, 180, "the quality stage to be ready", every_s=0.05)
        # the endpoint serves before Faust starts: its first answers say why it is not ready
        assert statuses[0] == (503, "waiting for the first partition assignment\n"), statuses[:3]
        assert probe(port, "/metrics") is not None
        assert stage.stop() == 0, stage.log_tail()
    finally:
        stage.stop()
