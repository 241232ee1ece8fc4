"""The worker's guards, without a broker: ``BrokerWatch`` gives up after
``timeout_s`` without an answer (or with one commit under way that long) and not before, and a
``Task`` never commits a transaction one of whose record batches was refused, and a batch fetched
before a rebalance that gave its partition back is not taken twice. A consumer whose close
re-raises a cancelled fetch counts as stopped; a cancellation of the caller still goes on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import TopicPartition

from monitor.worker import watchdog
from monitor.worker.loop import stop_consumer
from monitor.worker.task import DeliveryFailed, Task
from monitor.worker.watchdog import BrokerLost, BrokerWatch


class FakeProducer:
    """Records what the task asks of its producer."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group: str) -> None:
        self.calls.append(f"offsets {sorted(offsets.values())} {group}")

    async def commit_transaction(self) -> None:
        self.calls.append("commit")


def _task(producer: FakeProducer) -> Task:
    """A task whose stage is never called (these tests drive its transactions only)."""
    return Task(TopicPartition("sqm.interactions.v1", 2), producer, "g", object())  # type: ignore[arg-type]


def _delivered(loop: asyncio.AbstractEventLoop, error: Exception | None = None) -> asyncio.Future[Any]:
    f: asyncio.Future[Any] = loop.create_future()
    if error is None:
        f.set_result(None)
    else:
        f.set_exception(error)
    return f


def test_a_transaction_with_a_refused_batch_is_not_committed() -> None:
    async def run() -> tuple[list[str], list[str]]:
        loop = asyncio.get_running_loop()
        good, bad = FakeProducer(), FakeProducer()
        ok_task, failed_task = _task(good), _task(bad)
        for task in (ok_task, failed_task):
            await task.begin()
            task.offset = 41
        ok_task.deliveries += [_delivered(loop), _delivered(loop)]
        failed_task.deliveries += [_delivered(loop), _delivered(loop, RuntimeError("refused"))]
        await ok_task.commit()
        with pytest.raises(DeliveryFailed, match="1 of 2 record batches"):
            await failed_task.commit()
        assert failed_task.txn_since is not None  # still open: the next owner aborts it
        assert failed_task.commit_started is None
        return good.calls, bad.calls

    good, bad = asyncio.run(run())
    assert good == ["begin", "offsets [41] g", "commit"]
    assert bad == ["begin"]


def _watch(tasks: list[Task], probe_ok: bool, timeout_s: float) -> BrokerWatch:
    async def probe() -> object:
        if not probe_ok:
            raise ConnectionError("refused")
        return set()

    return BrokerWatch("h:9092", timeout_s, lambda: tasks, probe)


@pytest.fixture()
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "CHECK_EVERY_S", 0.01)
    monkeypatch.setattr(watchdog, "PROBE_AFTER_S", 0.05)


async def _outcome(watch: BrokerWatch, within_s: float) -> tuple[BrokerLost | None, float]:
    started = time.monotonic()
    try:
        lost = await asyncio.wait_for(watch.run(), within_s)
    except TimeoutError:
        return None, time.monotonic() - started
    return lost, time.monotonic() - started


@pytest.mark.usefixtures("fast")
def test_no_answer_for_the_timeout_is_a_lost_broker() -> None:
    lost, after_s = asyncio.run(_outcome(_watch([], probe_ok=False, timeout_s=0.3), 5))
    assert lost is not None and 0.3 <= after_s < 2
    assert str(lost).startswith("lost the broker at h:9092 for more than 0.3 s (no answer since ")


@pytest.mark.usefixtures("fast")
def test_answered_probes_keep_an_idle_worker_going() -> None:
    lost, _ = asyncio.run(_outcome(_watch([], probe_ok=True, timeout_s=0.3), 1.0))
    assert lost is None


@pytest.mark.usefixtures("fast")
def test_a_commit_under_way_for_the_timeout_is_a_lost_broker() -> None:
    task = _task(FakeProducer())
    task.commit_started = time.monotonic()
    lost, after_s = asyncio.run(_outcome(_watch([task], probe_ok=True, timeout_s=0.3), 5))
    assert lost is not None and 0.3 <= after_s < 2
    assert "a commit of sqm.interactions.v1-2 under way since " in str(lost)


class _Rec:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def test_records_fetched_before_a_rebalance_are_taken_once() -> None:
    """A batch fetched before a rebalance that gave the partition back to the same worker comes
    again from the committed offset: each offset goes to the stage once."""
    from monitor.config import Config, domain_params
    from monitor.worker.loop import Worker

    cfg = Config()
    worker = Worker(cfg, domain_params(cfg))
    tp = TopicPartition("sqm.internal.partials.v1", 1)
    # the new task: committed offset 100 (its stage is never called: ``_run`` is replaced)
    task = Task(tp, FakeProducer(), "g", object(), next_offset=100)  # type: ignore[arg-type]
    worker.tasks = {tp: task}
    seen: list[list[int]] = []

    async def run(_task: Task, records: list[Any], _now_ms: int) -> None:
        seen.append([r.offset for r in records])

    worker._run = run  # type: ignore[method-assign,assignment]

    async def go() -> None:
        await worker._process({tp: [_Rec(o) for o in range(100, 106)]})  # the stale batch
        await worker._process({tp: [_Rec(o) for o in range(100, 110)]})  # read again from 100
        await worker._process({tp: [_Rec(o) for o in range(110, 112)]})

    asyncio.run(go())
    assert seen == [[100, 101, 102, 103, 104, 105], [106, 107, 108, 109], [110, 111]]
    assert task.next_offset == 112


class CancellingConsumer:
    """aiokafka's consumer when a fetch was waiting out its retry backoff: ``stop`` raises the
    fetch's cancellation (aio-libs/aiokafka#983), or waits, to be cancelled from outside."""

    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.stopped = False

    async def stop(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        fetch = asyncio.ensure_future(asyncio.sleep(3600))
        await asyncio.sleep(0)
        fetch.cancel()
        self.stopped = True
        await fetch


def test_a_cancelled_fetch_in_stop_is_a_stopped_consumer() -> None:
    consumer = CancellingConsumer(hang=False)
    asyncio.run(stop_consumer(consumer))
    assert consumer.stopped


def test_a_cancelled_caller_is_still_cancelled() -> None:
    async def scenario() -> None:
        step = asyncio.ensure_future(stop_consumer(CancellingConsumer(hang=True)))
        await asyncio.sleep(0)
        step.cancel()
        with pytest.raises(asyncio.CancelledError):
            await step
    asyncio.run(scenario())
