"""Kafka side of ``sqm generate`` and ``sqm replay``: produce records fast, paced or not.

``produce`` is the one producer loop both commands use. ``generate_main`` runs the pure traffic
model of ``monitor.sim.model`` against the wall clock (or writes a file); ``replay_main`` sends a
JSON-lines file unchanged, garbage lines included (the worker has to dead-letter them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from monitor.config import Config
from monitor.contract.topics import TOPIC_INPUT
from monitor.kafka.security import ClientOptions, client_options
from monitor.sim.model import (
    Item,
    Scenario,
    TrafficModel,
    encode,
    format_ts,
    key_of,
    parse_scenario,
)

DEFAULT_TOPIC = TOPIC_INPUT
#: Live mode hands the producer what became due every TICK_S of wall-clock time.
TICK_S = 0.1
#: History / file mode steps the model through event time in these steps.
STEP_MS = 1000
#: Await delivery reports every this many records (bounds memory, surfaces errors early).
SETTLE_EVERY = 20_000
#: How long a broker outage is ridden out (records kept and retried) before giving up.
OUTAGE_LIMIT_S = 300.0
#: Seconds to wait for acknowledgements before saying that the broker is unavailable.
SETTLE_WAIT_S = 15.0

KeyValue = tuple[bytes | None, bytes]


class ProduceError(Exception):
    """Kafka could not be reached or refused the records; the message is one clear line."""


# --- producing -----------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every failed bootstrap attempt; we report the failure once ourselves."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _aiter(items: Iterable[KeyValue] | AsyncIterable[KeyValue]) -> AsyncIterator[KeyValue]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def produce(
    bootstrap: str,
    topic: str,
    items: Iterable[KeyValue] | AsyncIterable[KeyValue],
    *,
    on_sent: Callable[[int], None] | None = None,
    linger_ms: int = 20,
    security: ClientOptions | None = None,
    notice: Callable[[str], None] | None = None,
) -> int:
    """Send ``(key, value)`` records to ``topic``; return how many the broker acknowledged.

    Batches with ``linger_ms`` and large batches; ``acks=all``. ``on_sent(n)`` is called with the
    running count each time a record is handed to the producer. ``security``: ``[kafka]``'s
    client options (``monitor.kafka.security.client_options``). Raises ``ProduceError``.

    A broker outage is ridden out for up to ``OUTAGE_LIMIT_S``: the producer is idempotent, so
    it retries its batches without duplicating them, and a record the producer could not take
    or that was refused is sent again (at least once). ``notice`` gets one line when an outage
    starts and one when it ends.
    """
    sender = _Sender(dict(
        bootstrap_servers=bootstrap,
        client_id="sqm-traffic",
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        request_timeout_ms=15_000,
        **(security or {}),
    ))
    try:
        with _quiet_aiokafka():
            cluster = await sender.start()
    except KafkaError as exc:
        await sender.stop()
        raise ProduceError(
            f"cannot reach Kafka at {bootstrap} ({exc}); is the broker running?"
        ) from None
    acked = 0
    try:
        if topic not in cluster.topics():
            raise ProduceError(
                f"topic {topic!r} does not exist on {bootstrap}; create it with `sqm topics apply`"
            )
        outage = _Outage(bootstrap, notice)
        pending: list[tuple[asyncio.Future[Any], KeyValue]] = []
        overdue = _Overdue()
        sent = 0
        async for item in _aiter(items):
            pending.append((await _send(sender, topic, item, outage), item))
            overdue.sent()
            sent += 1
            if on_sent is not None:
                on_sent(sent)
            if len(pending) >= SETTLE_EVERY or overdue.check(pending):
                acked += await _settle(sender, topic, pending, outage)
                overdue.clear()
        acked += await _settle(sender, topic, pending, outage)
    except KafkaConnectionError as exc:
        raise ProduceError(f"lost the connection to Kafka at {bootstrap} ({exc})") from None
    except KafkaError as exc:
        raise ProduceError(
            f"Kafka refused records for {topic!r} after {acked} acknowledged: {exc!r}"
        ) from None
    finally:
        await sender.stop()
    return acked


#: Errors after which an idempotent producer's sequence numbers no longer match the broker's
#: (records expired client-side during an outage): every later send would fail the same way,
#: so the producer is replaced (a new producer id) and the refused records sent again.
BROKEN_SEQUENCE = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch)


class _Sender:
    """The producer, replaceable: aiokafka's idempotent producer does not reset its producer id
    after ``BROKEN_SEQUENCE`` errors as the Java client does."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.producer = AIOKafkaProducer(**options)

    async def start(self) -> Any:
        """Start it; the cluster metadata (to check the topic)."""
        await self.producer.start()
        return await self.producer.client.fetch_all_metadata()

    async def renew(self) -> None:
        await self.stop()
        self.producer = AIOKafkaProducer(**self.options)
        await self.producer.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.producer.stop()


class _Overdue:
    """Notices a record not acknowledged within ``SETTLE_WAIT_S`` long before ``SETTLE_EVERY``
    records are out (a paced replay sends 20,000 records in minutes), so that an outage is
    reported while it lasts: ``check`` is true once the oldest unacknowledged record is overdue.
    Cheap per record: one clock read, and the scan only moves forward."""

    def __init__(self) -> None:
        self.sent_at: list[float] = []
        self.first_open = 0  # index of the oldest record perhaps not acknowledged yet

    def sent(self) -> None:
        self.sent_at.append(time.monotonic())

    def check(self, pending: list[tuple[asyncio.Future[Any], KeyValue]]) -> bool:
        now = self.sent_at[-1]
        if now - self.sent_at[self.first_open] <= SETTLE_WAIT_S:
            return False
        while self.first_open < len(pending) and pending[self.first_open][0].done():
            self.first_open += 1
        return (self.first_open < len(pending)
                and now - self.sent_at[self.first_open] > SETTLE_WAIT_S)

    def clear(self) -> None:
        self.sent_at.clear()
        self.first_open = 0


class _Outage:
    """Says once that the broker is unavailable and once that it is back; gives up (with a
    ``ProduceError``) after ``OUTAGE_LIMIT_S`` without progress."""

    def __init__(self, bootstrap: str, notice: Callable[[str], None] | None) -> None:
        self.bootstrap = bootstrap
        self.notice = notice or (lambda line: print(line, file=sys.stderr, flush=True))
        self.since: float | None = None

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            self.notice(f"broker unavailable at {self.bootstrap} ({exc!r}), retrying for up "
                        f"to {OUTAGE_LIMIT_S:g} s ...")
        elif now - self.since > OUTAGE_LIMIT_S:
            raise ProduceError(f"broker unavailable at {self.bootstrap} for more than "
                               f"{OUTAGE_LIMIT_S:g} s ({exc!r}); giving up")

    def ok(self) -> None:
        if self.since is not None:
            self.notice(f"broker back after {time.monotonic() - self.since:.0f} s; "
                        "carrying on")
            self.since = None


async def _send(sender: _Sender, topic: str, item: KeyValue,
                outage: _Outage) -> asyncio.Future[Any]:
    """Hand one record to the producer, waiting while it cannot take it (broker away)."""
    while True:
        try:
            future: asyncio.Future[Any] = await sender.producer.send(topic, item[1], key=item[0])
            return future
        except KafkaTimeoutError as exc:  # its batch for the partition is full and undelivered
            outage.failed(exc)


async def _settle(sender: _Sender, topic: str,
                  pending: list[tuple[asyncio.Future[Any], KeyValue]], outage: _Outage) -> int:
    """Wait for the delivery of ``pending`` (emptied), sending refused records again; return
    how many were acknowledged."""
    acked = 0
    while pending:
        _done, waiting = await asyncio.wait([f for f, _ in pending], timeout=SETTLE_WAIT_S)
        if waiting:  # the producer goes on retrying them
            outage.failed(KafkaTimeoutError(f"{len(waiting)} records not acknowledged within "
                                            f"{SETTLE_WAIT_S:g} s"))
            continue
        results = [f.exception() or f.result() for f, _ in pending]
        if any(isinstance(r, BROKEN_SEQUENCE) for r in results):
            await sender.renew()
        again: list[tuple[asyncio.Future[Any], KeyValue]] = []
        for (_f, item), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, KafkaError):
                    raise result
                outage.failed(result)
                again.append((await _send(sender, topic, item, outage), item))
            else:
                acked += 1
        if not again:
            outage.ok()
        pending[:] = again
    return acked


# --- progress ------------------------------------------------------------------------------


class _Meter:
    """A rich progress bar on a terminal, nothing otherwise; the summary line is ours."""

    def __init__(self, description: str, total: float) -> None:
        self.enabled = sys.stdout.isatty()
        self.started = time.monotonic()
        self.sent = 0
        self._phase_started = self.started
        self._phase_sent = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sent]:>10,} records"),
            TextColumn("{task.fields[rate]:>9,.0f}/s"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=sys.stdout),
            disable=not self.enabled,
        )
        self.task: TaskID = self.progress.add_task(description, total=total, sent=0, rate=0.0)

    def __enter__(self) -> _Meter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Records per second over the whole run."""
        elapsed = self.elapsed
        return self.sent / elapsed if elapsed > 0 else 0.0

    @property
    def phase_rate(self) -> float:
        """Records per second since the current phase (history, live) began."""
        elapsed = time.monotonic() - self._phase_started
        return (self.sent - self._phase_sent) / elapsed if elapsed > 0 else 0.0

    def phase(self, description: str, total: float) -> None:
        self._phase_started, self._phase_sent = time.monotonic(), self.sent
        self.progress.reset(self.task, total=total, description=description,
                            sent=self.sent, rate=0.0)

    def update(self, completed: float, sent: int) -> None:
        self.sent = sent
        if self.enabled:
            self.progress.update(self.task, completed=completed, sent=sent, rate=self.phase_rate)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _err(command: str, message: str) -> None:
    print(f"sqm {command}: {message}", file=sys.stderr)


# --- sqm generate --------------------------------------------------------------------------


def generate_main(
    cfg: Config,
    *,
    rate: float,
    duration_s: float,
    scenario: str,
    seed: int,
    out: Path | None,
    topic: str = DEFAULT_TOPIC,
    history_s: float | None = None,
    duplicate_ratio: float = 0.0,
    disorder_ms: int = 0,
    garbage_ratio: float = 0.0,
) -> int:
    """``sqm generate``: synthetic traffic into ``topic`` (or JSON lines into ``out``).

    Live: event time is the wall clock; what became due is sent every ~100 ms for
    ``duration_s``. ``history_s`` first backfills that many seconds ending now, as fast as
    possible. The scenario's degradation runs over the whole span (history + live).
    With ``out``, nothing is paced: the file holds ``history_s + duration_s`` seconds of
    traffic ending now. Returns 0, 1 when Kafka fails, 2 on bad arguments.
    """
    history = 0.0 if history_s is None else history_s
    problem = None
    if not (rate > 0 and math.isfinite(rate)):
        problem = f"--rate must be a positive number of events per second, got {rate}"
    elif not (duration_s >= 0 and math.isfinite(duration_s)):
        problem = f"--duration must be 0 or more seconds, got {duration_s}"
    elif not (history >= 0 and math.isfinite(history)):
        problem = f"--history must be 0 or more seconds, got {history_s}"
    elif duration_s + history <= 0:
        problem = "nothing to generate: --duration and --history are both 0"
    if problem is not None:
        _err("generate", problem)
        return 2
    try:
        parsed = parse_scenario(scenario, cfg.channel_names)
        now = _now_ms()
        span_s = history + duration_s
        start = now - round((span_s if out is not None else history) * 1000)
        model = TrafficModel(
            cfg.channels, parsed, seed, rate, start_ms=start, duration_s=span_s,
            duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms,
            garbage_ratio=garbage_ratio, id_tag=f"{seed}-{start // 1000}",
        )
    except ValueError as exc:
        _err("generate", str(exc))
        return 2

    _announce(parsed, start, span_s)
    if out is not None:
        return _generate_file(model, out)

    bootstrap = cfg.bootstrap_servers
    meter = _Meter("history" if history > 0 else "live", history if history > 0 else duration_s)
    history_end = start + round(history * 1000)
    try:
        with meter:
            acked = asyncio.run(produce(
                bootstrap, topic, _generate_items(model, meter, history_end),
                on_sent=lambda n: setattr(meter, "sent", n), security=client_options(cfg.kafka),
                notice=lambda line: _err("generate", line),
            ))
    except ProduceError as exc:
        _err("generate", str(exc))
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {meter.sent:,} records handed to Kafka ({_stats(model)})")
        return 130
    print(
        f"sent {acked:,} records ({_stats(model)}) to {topic} at {bootstrap} in "
        f"{meter.elapsed:.1f} s ({meter.rate:,.0f}/s), scenario {parsed}, seed {seed}"
    )
    return 0


def _announce(scenario: Scenario, start_ms: int, span_s: float) -> None:
    """Say when the degraded channel is bad, so a reader knows when to expect its alerts."""
    if scenario.degrade is None:
        return
    slow = scenario.slowdown(scenario.degrade, start_ms, span_s)
    assert slow is not None
    print(f"sqm generate: {scenario}: {scenario.degrade} degraded from "
          f"{format_ts(round(slow.from_ms))} to {format_ts(round(slow.until_ms))} (event time)",
          flush=True)


def _stats(model: TrafficModel) -> str:
    s = model.stats
    return (f"{s.events:,} events of {s.interactions:,} contacts, {s.duplicates:,} duplicates, "
            f"{s.garbage:,} garbage")


def _kv(item: Item) -> KeyValue:
    return key_of(item), encode(item)


async def _generate_items(
    model: TrafficModel, meter: _Meter, history_end: int
) -> AsyncIterator[KeyValue]:
    """History as fast as the producer takes it, then live on the wall clock."""
    assert model.start_ms is not None and model.end_ms is not None
    start, end = model.start_ms, model.end_ms
    t = start
    while t < history_end:
        t = min(t + STEP_MS, history_end)
        for item in model.events_until(t):
            yield _kv(item)
        meter.update((t - start) / 1000, meter.sent)
    if end > history_end:
        meter.phase("live", (end - history_end) / 1000)
    tick = time.monotonic()
    while True:
        now = _now_ms()
        last = now >= end
        batch = model.drain(end) if last else model.events_until(now)
        for item in batch:
            yield _kv(item)
        meter.update((min(now, end) - history_end) / 1000, meter.sent)
        if last:
            return
        tick += TICK_S
        delay = tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(min(delay, (end - now) / 1000 + 0.001))
        else:
            tick = time.monotonic()


def _generate_file(model: TrafficModel, out: Path) -> int:
    assert model.start_ms is not None and model.end_ms is not None
    start, end = model.start_ms, model.end_ms
    meter = _Meter(f"writing {out.name}", (end - start) / 1000)
    written = 0
    try:
        with out.open("wb") as fh, meter:
            t = start
            while t < end:
                t = min(t + STEP_MS, end)
                written += _write(fh, model.events_until(t))
                meter.update((t - start) / 1000, written)
            written += _write(fh, model.drain(end))
            meter.update((end - start) / 1000, written)
    except OSError as exc:
        _err("generate", f"cannot write {out}: {exc.strerror or exc}")
        return 1
    print(f"wrote {written:,} lines ({_stats(model)}) to {out} in {meter.elapsed:.1f} s, "
          f"event time {(end - start) / 1000:,.0f} s ending now")
    return 0


def _write(fh: IO[bytes], items: list[Item]) -> int:
    if items:
        fh.write(b"".join(encode(item) + b"\n" for item in items))
    return len(items)


# --- sqm replay ----------------------------------------------------------------------------


def line_key(line: bytes) -> bytes | None:
    """The record key of a line: its ``interaction_id`` when it is an object that has one."""
    return key_of(line)


def replay_main(
    cfg: Config,
    path: Path,
    *,
    topic: str = DEFAULT_TOPIC,
    rate: float | None = None,
) -> int:
    """``sqm replay FILE``: every non-blank line, unchanged, as one record (``rate`` lines/s)."""
    if rate is not None and not (rate > 0 and math.isfinite(rate)):
        _err("replay", f"--rate must be a positive number of lines per second, got {rate}")
        return 2
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except OSError as exc:
        _err("replay", f"cannot read {path}: {exc.strerror or exc}")
        return 1
    bootstrap = cfg.bootstrap_servers
    meter = _Meter(f"replay {path.name}", max(size, 1))
    try:
        with fh, meter:
            acked = asyncio.run(produce(
                bootstrap, topic, _replay_items(fh, meter, rate),
                on_sent=lambda n: setattr(meter, "sent", n), security=client_options(cfg.kafka),
                notice=lambda line: _err("replay", line),
            ))
    except ProduceError as exc:
        _err("replay", str(exc))
        return 1
    except OSError as exc:
        _err("replay", f"cannot read {path}: {exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {meter.sent:,} lines of {path} handed to Kafka")
        return 130
    print(f"replayed {acked:,} lines of {path} to {topic} at {bootstrap} in "
          f"{meter.elapsed:.1f} s ({meter.rate:,.0f}/s)")
    return 0


async def _replay_items(
    fh: IO[bytes], meter: _Meter, rate: float | None
) -> AsyncIterator[KeyValue]:
    started = time.monotonic()
    done_bytes = 0
    n = 0
    for raw in fh:
        done_bytes += len(raw)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0.005:
                await asyncio.sleep(delay)
        n += 1
        yield line_key(line), line
        if n % 256 == 0 or rate is not None:
            meter.update(done_bytes, meter.sent)
    meter.update(done_bytes, meter.sent)
