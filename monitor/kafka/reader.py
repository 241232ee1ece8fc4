"""Read a topic's committed records for a time range, straight from Kafka (``sqm report``).

The period report (SPEC section 8) needs no store of its own: it seeks each partition of
``sqm.indicators.v1``, ``sqm.alerts.v1`` and ``sqm.quality.v1`` by timestamp and reads forward.

Two clocks are involved, and the range is about the second:

* A record's **Kafka timestamp** is its produce time (the worker and the quality stage leave it
  to the producer). It is what ``offsets_for_times`` searches.
* Its **event time** is in the value: ``window_start`` (indicators, alerts) or ``period_start``
  (quality). A window's result is produced when the window closes, at or after ``window_end +
  grace`` of the event clock, and a backfill or replay produces old windows *now*.

So :func:`read_range` seeks to ``from_ms - slack_ms`` and returns **everything from there to the
end** of each partition; the caller keeps the records whose event time is in the range
(:func:`event_time_ms`, :func:`in_event_range`). Reading to the end is what catches late and
backfilled results: their produce time is after ``to_ms``, their event time is not.

Choosing ``slack_ms`` (how far before ``from_ms`` to start). A record is missed only if it was
produced more than ``slack_ms`` *before* its own event time, i.e. the event clock ran ahead of the
producer's wall clock: events may be stamped up to ``max_future_skew_s`` in the future and still
move the watermark, and hosts' clocks drift. :func:`slack_ms_for` takes ``window_s + grace_s +
max_future_skew_s``, which covers that with a window and a grace to spare. The trade-off:

* more slack only costs reading (and discarding) the records produced in the slack, a few
  windows' worth per channel, which is small next to the period itself;
* less slack risks silently dropping the first windows of the range when clocks are skewed;
* for a range older than retention, or when in doubt, ``from_beginning=True`` reads each
  partition from its first retained offset: nothing can be missed, at the cost of reading the
  whole topic (since the range is old, reading "to the end" already covers most of it anyway).

Reads use ``isolation_level="read_committed"`` (the worker writes in transactions: an aborted
transaction's records are never returned) and no consumer group (``assign``, no commits). Each
partition is read up to its end offset (the last stable offset) **as taken at the start of the
read**, so a live topic, which keeps growing, does not make the read go on forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.config import Config
from monitor.domain.stream.timefmt import parse_rfc3339_ms
from monitor.kafka.security import ClientOptions

#: ``progress(done, total)``: offsets read so far and to read in all, over every partition.
Progress = Callable[[int, int], None]

#: Fields of a record's value that carry its event time, in the order they are tried.
EVENT_TIME_FIELDS = ("window_start", "period_start")

#: Seconds one :func:`read_range` may wait for the broker without getting closer to the end.
STALL_TIMEOUT_S = 30.0

_FETCH_TIMEOUT_MS = 500
_MAX_RECORDS = 10_000


class Record(NamedTuple):
    """One committed record, ``(key, value, timestamp_ms)``. ``timestamp_ms`` is Kafka's (the
    produce time), not the event time."""

    key: bytes | None
    value: bytes
    timestamp_ms: int


class ReadError(RuntimeError):
    """The topic does not exist or the broker stopped answering (the message says which)."""


def slack_ms_for(cfg: Config) -> int:
    """The ``slack_ms`` to read a range of ``cfg``'s results with (module docstring)."""
    return (cfg.window_s + cfg.grace_s + cfg.max_future_skew_s) * 1000


def event_time_ms(value: bytes) -> int | None:
    """Epoch ms of a record's own event time (``window_start`` / ``period_start``); None when the
    value is not a JSON object with one of them."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return event_time_of(doc)


def event_time_of(doc: object) -> int | None:
    """:func:`event_time_ms` of a value already parsed (a caller that keeps the parsed value)."""
    if not isinstance(doc, dict):
        return None
    for name in EVENT_TIME_FIELDS:
        text = doc.get(name)
        if isinstance(text, str):
            return parse_rfc3339_ms(text)
    return None


def in_event_range(records: Iterable[Record], from_ms: int, to_ms: int) -> list[Record]:
    """The records whose event time is in ``[from_ms, to_ms)``, in the order given."""
    out = []
    for rec in records:
        t = event_time_ms(rec.value)
        if t is not None and from_ms <= t < to_ms:
            out.append(rec)
    return out


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic) or set()
    if not parts:
        # aiokafka has no public way to refresh a consumer's metadata
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    if not parts:
        raise ReadError(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def _start_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition], since_ms: int | None,
                         ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """Where each partition's read starts: its first record produced at or after ``since_ms``
    (None: its first retained record); its end when it has none."""
    if since_ms is None:
        firsts: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
        return {tp: min(firsts[tp], ends[tp]) for tp in tps}
    found = await consumer.offsets_for_times({tp: max(0, since_ms) for tp in tps})
    return {tp: ends[tp] if found[tp] is None else min(found[tp].offset, ends[tp]) for tp in tps}


class _Range:
    """The read's bookkeeping: per partition, where it starts, where it must stop, where it is."""

    def __init__(self, starts: dict[TopicPartition, int], ends: dict[TopicPartition, int]) -> None:
        self.starts = starts
        self.ends = ends
        self.positions = dict(starts)
        self.total = sum(ends[tp] - starts[tp] for tp in starts)

    def done(self) -> int:
        return sum(self.positions[tp] - self.starts[tp] for tp in self.starts)

    def open(self) -> list[TopicPartition]:
        return [tp for tp in self.starts if self.positions[tp] < self.ends[tp]]

    def take(self, tp: TopicPartition, batch: list[Any], position: int, out: list[Record]) -> None:
        """Keep ``batch``'s records below the partition's end; ``position`` is the consumer's."""
        end = self.ends[tp]
        out.extend(Record(r.key, r.value, r.timestamp)
                   for r in batch if r.offset < end and r.value is not None)
        self.positions[tp] = min(position, end)


async def _read_to_ends(consumer: AIOKafkaConsumer, rng: _Range, progress: Progress | None) -> list[Record]:
    out: list[Record] = []
    stalled_since = time.monotonic()
    while pending := rng.open():
        before = rng.done()
        batches = await consumer.getmany(*pending, timeout_ms=_FETCH_TIMEOUT_MS, max_records=_MAX_RECORDS)
        for tp in pending:
            # The position also moves past transaction markers and aborted records, which come
            # with no record: read it for every pending partition, not only those in ``batches``.
            rng.take(tp, batches.get(tp, []), await consumer.position(tp), out)
            if rng.positions[tp] >= rng.ends[tp]:
                consumer.pause(tp)  # a live partition: nothing past the end is wanted
        if rng.done() > before:
            stalled_since = time.monotonic()
            if progress is not None:
                progress(rng.done(), rng.total)
        elif time.monotonic() - stalled_since > STALL_TIMEOUT_S:
            raise ReadError(f"no progress for {STALL_TIMEOUT_S:.0f} s reading {pending[0].topic}")
    return out


async def read_range(bootstrap: str, topic: str, from_ms: int, to_ms: int, *, slack_ms: int,
                     from_beginning: bool = False, event_time: bool = False,
                     progress: Progress | None = None,
                     security: ClientOptions | None = None) -> list[Record]:
    """Every committed record of ``topic`` produced from ``from_ms - slack_ms`` (or, with
    ``from_beginning``, from each partition's first retained record) up to the end offsets taken
    when the read starts; by partition, then offset. Tombstones (no value) are left out.

    ``to_ms`` does not stop the read: late and backfilled results are produced after it, so
    everything up to now is read and the caller filters by event time, or passes ``event_time``
    to get only the records whose event time is in ``[from_ms, to_ms)`` (:func:`in_event_range`).
    ``progress(done, total)`` counts offsets (records, plus the transaction markers between them):
    it is called with ``(0, total)`` first and ends at ``(total, total)``. ``security``:
    ``[kafka]``'s client options.
    """
    if to_ms < from_ms or slack_ms < 0:
        raise ValueError(f"expected from_ms <= to_ms and slack_ms >= 0, got {from_ms}, {to_ms}, {slack_ms}")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, group_id=None, **(security or {}))
    await consumer.start()
    try:
        tps = await _partitions(consumer, topic)
        consumer.assign(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        starts = await _start_offsets(consumer, tps, None if from_beginning else from_ms - slack_ms, ends)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        rng = _Range(starts, ends)
        if progress is not None:
            progress(0, rng.total)
        records = await _read_to_ends(consumer, rng, progress)
    finally:
        await consumer.stop()
    return in_event_range(records, from_ms, to_ms) if event_time else records


def read_range_sync(bootstrap: str, topic: str, from_ms: int, to_ms: int, *, slack_ms: int,
                    from_beginning: bool = False, event_time: bool = False,
                    progress: Progress | None = None,
                    security: ClientOptions | None = None) -> list[Record]:
    """:func:`read_range` for synchronous callers (the CLI); not from inside a running loop."""
    return asyncio.run(read_range(bootstrap, topic, from_ms, to_ms, slack_ms=slack_ms,
                                  from_beginning=from_beginning, event_time=event_time,
                                  progress=progress, security=security))
