"""A broker outage under a steady replay, on a broker of this test's own (stopped and started
again with its data), never the session's shared one.

The worker's choice (``monitor/worker/watchdog.py``): after ``broker_timeout_s`` without its
broker it exits with code 1 and one message, and its supervisor restarts it; the restart
resumes from the last commit. The test acts as the supervisor. ``sqm replay`` rides the outage
out by itself. Afterwards every ``sqm.indicators.v1`` record equals the reference's, with no two
different records for one (channel, window).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import WorkerProcess, poll, read_json, read_topic, reset_topics, write_config
from kafka_broker import free_port, restart_broker, start_broker, stop_broker
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

from monitor.contract.topics import TOPIC_INDICATORS, TOPIC_INPUT
from monitor.worker.watchdog import RESTART_NOTE

OUTAGE_S = 60
BROKER_TIMEOUT_S = 15


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """A broker for this test alone: ``(bootstrap, port, data dir)``."""
    port, data = free_port(), tmp_path / "kafka"
    bootstrap = start_broker(port, data)
    try:
        yield bootstrap, port, data
    finally:
        stop_broker(port, data)


def _replay(cfg: Path, lines: Path, rate: float, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "replay", str(lines),
         "--rate", str(rate)], stdout=log.open("wb"), stderr=subprocess.STDOUT)


def test_worker_exits_on_a_lost_broker_and_its_restart_is_exact(
        own_broker: tuple[str, int, Path], tmp_path: Path) -> None:
    bootstrap, port, data = own_broker
    reset_topics(bootstrap)
    # idle_timeout_s: the replay of history must not pause longer than this once the broker is
    # back (a pause of history would finalise its windows early, outage or not)
    cfg = with_queues(write_config(tmp_path / "sqm.toml", bootstrap, f"it-{uuid.uuid4().hex[:8]}",
                       idle_timeout_s=30, orphan_timeout_s=600, broker_timeout_s=BROKER_TIMEOUT_S))
    start, duration = _span(int(time.time() * 1000))
    items, valid, _reasons = scenario(start, duration, rate=5.0, seed=61)
    ref = _expected(valid, start, duration)
    lines = tmp_path / "scenario.jsonl"
    lines.write_bytes(b"".join(value + b"\n" for _key, value in items))

    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker1.log")
    replay_log = tmp_path / "replay.log"
    replay: subprocess.Popen[bytes] | None = None
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "interactions"),))) == 4, 90,
             "the worker to start")
        replay = _replay(cfg, lines, len(items) / 70, replay_log)  # ~70 s of steady replay
        poll(lambda: len(read_json(bootstrap, TOPIC_INDICATORS)) >= 14, 120,
             "the first windows before the outage")

        stopped = time.monotonic()  # the broker goes away during its stop, not after it
        stop_broker(port, data)
        poll(lambda: not worker.alive(), BROKER_TIMEOUT_S + 60, "the worker to give up")
        gave_up_s = time.monotonic() - stopped
        assert worker.proc.returncode == 1, worker.log_tail()
        stopped_lines = [ln for ln in worker.log_tail().splitlines() if "worker stopped" in ln]
        assert len(stopped_lines) == 1, worker.log_tail()
        # one line: the watchdog's after broker_timeout_s, or (when a write fails first, which
        # may be at once) the Kafka client's failure
        watchdog = f"lost the broker at {bootstrap} for more than {BROKER_TIMEOUT_S} s"
        assert (watchdog in stopped_lines[0] or "the Kafka client failed (" in stopped_lines[0]), \
            stopped_lines
        assert stopped_lines[0].endswith(RESTART_NOTE), stopped_lines
        assert "Traceback" not in worker.log.read_text(errors="replace")
        assert gave_up_s <= BROKER_TIMEOUT_S + 45, gave_up_s
        if watchdog in stopped_lines[0]:
            assert gave_up_s >= BROKER_TIMEOUT_S, gave_up_s
        assert replay.poll() is None, "sqm replay must ride the outage out"

        poll(lambda: time.monotonic() - stopped >= OUTAGE_S, OUTAGE_S + 5, "the outage to end",
             every_s=1)
        restart_broker(port, data)
        # the supervisor's restart
        worker = WorkerProcess(cfg, free_port(), tmp_path / "worker2.log")

        assert replay.wait(timeout=300) == 0, replay_log.read_text(errors="replace")
        assert "broker unavailable" in replay_log.read_text(errors="replace")
        # at least once; with the idempotent producer, once per line unless a batch was refused
        sent = Counter(v for _k, v in read_topic(bootstrap, TOPIC_INPUT))
        assert set(sent) == {v for _k, v in items}

        in_file = Counter(v for _k, v in items)
        resent = sum(n - in_file[v] for v, n in sent.items())  # the replay's own retries
        got = wait_for_windows(bootstrap, ref.records, 300, [worker])
        m = worker.metrics()
        duplicates = sum(v for (name, _l), v in m.items() if name == "sqm_events_duplicate_total")
        print(f"records the replay sent again: {resent}; duplicates the restarted worker "
              f"dropped: {duplicates}")
        assert_records(ref.records, got)
        assert_queue_records(ref, wait_for_queue_windows(bootstrap, ref, 60, [worker]))
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
            replay.wait()
        worker.stop()
