"""``produce``: records to a Kafka topic, fast, riding out a broker outage.

The one producer loop of ``sqm generate``, ``sqm replay`` and the benchmarks: idempotent, so a
retried batch is never written twice, and a producer whose sequence numbers broke during an
outage is replaced (aiokafka does not do it itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)

from monitor.kafka.security import ClientOptions

#: Await delivery reports every this many records (bounds memory, surfaces errors early).
SETTLE_EVERY = 20_000
#: How long a broker outage is ridden out (records kept and retried) before giving up.
OUTAGE_LIMIT_S = 300.0
#: Seconds to wait for acknowledgements before saying that the broker is unavailable.
SETTLE_WAIT_S = 15.0

KeyValue = tuple[bytes | None, bytes]


class ProduceError(Exception):
    """Kafka could not be reached or refused the records; the message is one clear line."""


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
