"""Rebalances under load: while ``sqm replay`` runs at a steady rate, a third worker joins and
one of the first two is stopped with SIGTERM. The stopped worker commits what it holds and
leaves the group within a bounded time (exit code 0), the group drops it at once (no wait for
a session timeout), and every ``sqm.indicators.v1`` record equals the reference's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from harness import WorkerProcess, poll, read_json, reset_topics, write_config
from kafka_broker import free_port
from test_pipeline import (
    _expected,
    _span,
    assert_queue_records,
    assert_records,
    scenario,
    wait_for_queue_windows,
    wait_for_windows,
    with_queues,
)

from monitor.contract.topics import TOPIC_INDICATORS

SIGTERM_EXIT_S = 10  # bound on commit + leave after SIGTERM
INPUT = ("sqm_assigned_partitions", (("stage", "interactions"),))
AGGREGATE = ("sqm_assigned_partitions", (("stage", "aggregate"),))


def _members(bootstrap: str, group: str) -> int:
    """Members of the consumer group, as the coordinator sees them now."""
    async def describe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [resp] = await admin.describe_consumer_groups([group])
            # (error_code, group, state, protocol_type, protocol, members)
            [described] = resp.groups
            return len(described[5])
        finally:
            await admin.close()
    return asyncio.run(describe())


def _owned(workers: list[WorkerProcess], key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
    return sum((w.try_metrics() or {}).get(key, 0) for w in workers)


def test_join_and_sigterm_under_load_give_exact_records(kafka_bootstrap: str,
                                                        tmp_path: Path) -> None:
    bootstrap = kafka_bootstrap
    reset_topics(bootstrap)
    group = f"it-{uuid.uuid4().hex[:8]}"
    cfg = with_queues(write_config(tmp_path / "sqm.toml", bootstrap, group, idle_timeout_s=10,
                       orphan_timeout_s=600))
    start, duration = _span(int(time.time() * 1000))
    items, valid, _reasons = scenario(start, duration, rate=5.0, seed=71)
    ref = _expected(valid, start, duration)
    lines = tmp_path / "scenario.jsonl"
    lines.write_bytes(b"".join(value + b"\n" for _key, value in items))

    workers = [WorkerProcess(cfg, free_port(), tmp_path / f"worker{i}.log") for i in range(2)]
    replay: subprocess.Popen[bytes] | None = None
    try:
        poll(lambda: all((w.try_metrics() or {}).get(INPUT, 0) for w in workers)
             and _owned(workers, INPUT) == 4, 90, "two workers sharing the input partitions")
        replay = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "replay", str(lines),
             "--rate", str(len(items) / 60)],  # a steady minute of replay
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        poll(lambda: len(read_json(bootstrap, TOPIC_INDICATORS)) >= 7, 120, "the first windows")

        joiner = WorkerProcess(cfg, free_port(), tmp_path / "worker2.log")
        workers.append(joiner)
        poll(lambda: (joiner.try_metrics() or {}).get(INPUT, 0) > 0
             and _owned(workers, INPUT) == 4 and _owned(workers, AGGREGATE) == 4, 120,
             "the third worker to take its share")
        assert replay.poll() is None, "the replay ended before the join: nothing was tested"

        leaver = workers.pop(0)
        t0 = time.monotonic()
        code = leaver.stop()  # SIGTERM (SIGKILL only after 60 s)
        exit_s = time.monotonic() - t0
        log = leaver.log.read_text(errors="replace")
        assert code == 0, log[-4000:]
        assert exit_s < SIGTERM_EXIT_S, f"SIGTERM took {exit_s:.1f} s:\n{log[-4000:]}"
        assert "released" in log and "worker stopped" not in log
        # it left the group itself: the coordinator drops it at once, not after a session timeout
        poll(lambda: _members(bootstrap, group) == 2, 5, "the group to drop the stopped worker")
        poll(lambda: _owned(workers, INPUT) == 4 and _owned(workers, AGGREGATE) == 4, 120,
             "the two remaining workers to own every partition")
        assert replay.poll() is None, "the replay ended before the leave: nothing was tested"

        out, _ = replay.communicate(timeout=300)
        assert replay.returncode == 0, out
        got = wait_for_windows(bootstrap, ref.records, 240, workers)
        assert_records(ref.records, got)  # also: no two different records for one window
        assert_queue_records(ref, wait_for_queue_windows(bootstrap, ref, 60, workers))
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
            replay.wait()
        for w in workers:
            w.stop()
