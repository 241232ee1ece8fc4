"""How stage one's state goes to its compacted changelog: batch logs plus snapshots.

Writing each changed interaction's state costs more than anything else a batch does (most events
change one interaction each). Stage one is deterministic given its input and the clock it was run
with, so each batch instead logs *what it ran with*: its wall clock, idle flag and watermark and
the events it accepted, a few dozen bytes each (delta records ``d:<seq>``, in order). When the
log written since the last snapshot outgrows the state itself, the same transaction also writes a
*snapshot* of the whole state (chunks ``s:<gen>:<n>``), a pointer to it (``g:``), and tombstones
for the deltas and chunks the snapshot replaces, so compaction keeps the topic near the size of
the state. Restore: the snapshot the pointer names, then the batches logged after it, re-run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec
import orjson

from monitor.contract.deadletter import raw_text
from monitor.domain.stream import feedback
from monitor.domain.stream.events import OPENED, TYPE_RANK, Event
from monitor.domain.stream.feedback import FEEDBACK, Feedback
from monitor.domain.stream.lifecycle import Interaction, Pending
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.domain.stream.ready import Ready
from monitor.state.changelog import ChangelogRecord, last_values

POINTER_KEY = b"g:"
CHUNK_BYTES = 256 * 1024
CHUNK_ENTRIES = 1024  # entries encoded at once; typical ones are 50-200 bytes
MIN_SNAPSHOT_BYTES = 16 * 1024 * 1024

Entry = tuple[str, Any]  # a snapshot's (interaction id, state as JSON-ready tuple)


# --- the JSON forms of stage one's state (orjson writes tuples as arrays; building one is the
# cheapest) --------------------------------------------------------------------------------


# A queue is written by name (and an undeclared one's flag) and read back through the
# configured queues: a restart with queues added, removed or reordered still finds each one.


def _queue_json(e: Event) -> list[Any]:
    """``[queue name, 1 if undeclared]`` of an event with a queue, else nothing."""
    return [] if e.queue is None else [e.queue.name, int(e.unlisted)]


def _queue(queues: Mapping[str, ChannelQueues], channel: str, d: list[Any], i: int
           ) -> tuple[Queue | None, bool]:
    """The queue at ``d[i]`` (absent: none; a record of a release before queues)."""
    if len(d) <= i:
        return None, False
    return queues[channel].resolve(d[i]), bool(d[i + 1])


def pending_to_json(p: Pending) -> list[Any]:
    """A waiting event (in the reorder buffer, or held for its ``opened``), with its source;
    an ``opened`` or ``transferred`` adds its queue, a survey its answers."""
    e = p.event
    key = None if p.key is None else p.key.decode("latin-1")
    extra = [msgspec.to_builtins(e.feedback)] if e.feedback is not None else _queue_json(e)
    return [e.ts_ms, e.event_id, e.type, p.offset, key, raw_text(p.raw), e.channel, *extra]


def pending_from_json(iid: str, d: list[Any], queues: Mapping[str, ChannelQueues]) -> Pending:
    key = None if d[4] is None else str(d[4]).encode("latin-1")
    queue, unlisted = _queue(queues, d[6], d, 7) if d[2] != FEEDBACK else (None, False)
    if queue is None and d[2] == OPENED:  # logged before queues: opened in the default queue
        queue = queues[d[6]].default
    survey: Feedback | None = None
    if d[2] == FEEDBACK and len(d) > 7:  # a waiting survey keeps its answers
        checked = feedback.validate(d[7])
        survey = None if isinstance(checked, str) else checked
    event = Event(d[1], iid, d[6], d[2], int(d[0]), survey, queue, unlisted)
    return Pending(event, int(d[3]), key, str(d[5]).encode())


class LoggedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event a batch accepted, as its batch log keeps it."""

    ts_ms: int
    rank: int
    event_id: str
    interaction_id: str
    type: str
    channel: str
    #: the queue of an ``opened`` or ``transferred``
    queue: Queue | None = None
    unlisted: bool = False


class LoggedBatch(msgspec.Struct, frozen=True, gc=False):
    """What one batch ran with (enough to run it again): its wall clock, idle flag and the
    partition's largest event time, the events it accepted in order, and the events still
    waiting at its end with their source (offset, key and raw record)."""

    now_ms: int
    idle: bool
    max_ts_ms: int | None
    accepted: list[LoggedEvent]
    waiting: dict[tuple[str, str], Pending]  # by (interaction id, event id)


def batch_entries(accepted: Iterable[Ready], waiting: Iterable[Pending]) -> list[Any]:
    """A batch's log entries: ``[ts, rank, event id, interaction id, type, channel]`` per
    accepted event (``LoggedEvent``; ``feedback`` events too, without their survey; an
    ``opened`` or ``transferred`` adds its queue's name and undeclared flag), then
    ``[interaction id, pending]`` per waiting one (a waiting survey with its answers)."""
    entries: list[Any] = [
        (r.ts_ms, r.rank, r.event_id, r.interaction_id, r.event.type, r.event.channel)
        if r.event.queue is None else
        (r.ts_ms, r.rank, r.event_id, r.interaction_id, r.event.type, r.event.channel,
         r.event.queue.name, int(r.event.unlisted))
        for r in accepted]
    entries += [(p.event.interaction_id, pending_to_json(p)) for p in waiting]
    return entries


def decode_batch(head: list[Any], entries: list[Any], queues: Mapping[str, ChannelQueues]
                 ) -> LoggedBatch:
    """A logged batch back from its head and entries (told apart by their length). The rank is
    taken from the type, not the log: a log of a release before ``transferred`` ranked the
    types with other numbers."""
    accepted: list[LoggedEvent] = []
    waiting: dict[tuple[str, str], Pending] = {}
    for d in entries:
        if len(d) == 2:
            pend = pending_from_json(d[0], d[1], queues)
            waiting[(d[0], pend.event.event_id)] = pend
        elif len(d) in (6, 8):
            ts, _rank, eid, iid, etype, channel = d[:6]
            queue, unlisted = _queue(queues, channel, d, 6)
            if queue is None and etype == OPENED:
                queue = queues[channel].default
            accepted.append(LoggedEvent(ts, TYPE_RANK[etype], eid, iid, etype, channel, queue,
                                        unlisted))
        else:
            raise ValueError("a batch entry in the format of an earlier release: start with a "
                             "fresh group_id and internal topics")
    now_ms, idle, max_ts = head
    return LoggedBatch(now_ms, idle, max_ts, accepted, waiting)


def interaction_to_json(s: Interaction, buffered: list[list[Any]] | tuple[()] = ()) -> tuple[Any, ...]:
    """One interaction in a snapshot; ``buffered``: its events in the reorder buffer, as
    ``pending_to_json``."""
    return (
        s.channel, s.opened_ts, s.flags, s.closed, s.closed_ts, s.seen,
        buffered, [pending_to_json(p) for p in s.held] if s.held else (), s.queue.name,
    )


def interaction_from_json(iid: str, d: list[Any], queues: Mapping[str, ChannelQueues]
                          ) -> tuple[Interaction, list[Pending]]:
    """The state and its events that were in the reorder buffer (a state of a release before
    queues is in its channel's default queue)."""
    s = Interaction(queues[d[0]].resolve(d[8] if len(d) > 8 else None))
    s.opened_ts, s.flags, s.closed, s.closed_ts = d[1], int(d[2]), int(d[3]), int(d[4])
    s.seen = tuple(d[5])
    buffered = [pending_from_json(iid, p, queues) for p in d[6]]
    s.unapplied = len(buffered)
    s.held = [pending_from_json(iid, p, queues) for p in d[7]] if d[7] else ()
    return s, buffered


def _delta_key(seq: int) -> bytes:
    return b"d:%016d" % seq


def _chunk_key(gen: int, n: int) -> bytes:
    return b"s:%d:%06d" % (gen, n)


def _chunks(entries: Iterable[Any]) -> Iterator[bytes]:
    """JSON arrays of entries (snapshot pairs or batch-log entries), each ``CHUNK_BYTES`` at most
    unless one entry alone is larger. One ``orjson.dumps`` per chunk: per-entry encoding and
    joining cost twice as much."""
    batch: list[Any] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= CHUNK_ENTRIES:
            yield from _encode(batch)
            batch = []
    if batch:
        yield from _encode(batch)


def _encode(entries: list[Any]) -> Iterator[bytes]:
    data = orjson.dumps(entries)
    if len(data) <= CHUNK_BYTES or len(entries) == 1:
        yield data
    else:  # rare: large entries (raw records of waiting events); halve until each part fits
        half = len(entries) // 2
        yield from _encode(entries[:half])
        yield from _encode(entries[half:])


class StateLog:
    """Sequence numbers and sizes of one partition's changelog."""

    def __init__(self) -> None:
        self.seq = 0  # last delta written
        self.gen = 0  # current snapshot generation (0: none)
        self.chunks = 0  # chunks of the current snapshot
        self.after_seq = 0  # deltas up to this one are in the current snapshot
        self.delta_bytes = 0  # written since the current snapshot
        self.snapshot_bytes = 0

    def write(self, head: list[Any], entries: list[Any]) -> list[ChangelogRecord]:
        """Delta records of one batch: its ``head`` (what it ran with) and its ``entries``
        (accepted events); a long batch takes several records, the head is in the last."""
        chunks = list(_chunks(entries)) or [b"[]"]
        out: list[ChangelogRecord] = []
        for i, chunk in enumerate(chunks, 1):
            self.seq += 1
            b = orjson.dumps(head) if i == len(chunks) else b"null"
            value = b'{"b":' + b + b',"e":' + chunk + b"}"
            self.delta_bytes += len(value)
            out.append((_delta_key(self.seq), value))
        return out

    def wants_snapshot(self) -> bool:
        return self.delta_bytes > max(MIN_SNAPSHOT_BYTES, self.snapshot_bytes)

    def snapshot(self, state: Iterable[Entry], meta: dict[str, Any]) -> list[
            ChangelogRecord]:
        """The whole ``state`` as of the last delta written, and tombstones for what it replaces."""
        out: list[ChangelogRecord] = []
        gen = self.gen + 1
        size = 0
        n = 0
        for n, chunk in enumerate(_chunks(state), 1):
            out.append((_chunk_key(gen, n), chunk))
            size += len(chunk)
        pointer = {"gen": gen, "chunks": n, "after_seq": self.seq, "m": meta}
        out.append((POINTER_KEY, orjson.dumps(pointer)))
        # what the snapshot replaces: older chunks and every delta it contains
        out.extend((_chunk_key(self.gen, i), None) for i in range(1, self.chunks + 1))
        out.extend((_delta_key(s), None) for s in range(self.after_seq + 1, self.seq + 1))
        self.gen, self.chunks, self.after_seq = gen, n, self.seq
        self.snapshot_bytes, self.delta_bytes = size, 0
        return out

    def restore(self, items: Iterable[ChangelogRecord]) -> tuple[
            dict[str, Any], dict[str, Any] | None, list[tuple[Any, list[Any]]]]:
        """The snapshot's state per interaction id and its meta, and the batches logged after
        it as ``(head, entries)``, in order, from changelog records."""
        last = last_values(items)
        states: dict[str, Any] = {}
        meta: dict[str, Any] | None = None
        pointer_raw = last.get(POINTER_KEY)
        if pointer_raw is not None:
            pointer = orjson.loads(pointer_raw)
            self.gen, self.chunks = pointer["gen"], pointer["chunks"]
            self.after_seq = self.seq = pointer["after_seq"]
            meta = pointer["m"]
            for n in range(1, self.chunks + 1):
                chunk = last.get(_chunk_key(self.gen, n))
                if chunk is None:
                    raise ValueError(f"changelog snapshot {self.gen} lacks chunk {n}")
                self.snapshot_bytes += len(chunk)
                for iid, s in orjson.loads(chunk):
                    states[iid] = s
        deltas = sorted((k, v) for k, v in last.items() if k.startswith(b"d:"))
        batches: list[tuple[Any, list[Any]]] = []
        entries: list[Any] = []
        for k, v in deltas:
            seq = int(k[2:])
            if seq <= self.after_seq:
                continue
            d = orjson.loads(v)
            if "b" not in d:
                raise ValueError(
                    f"changelog record {k.decode()} is in the format of an earlier release: "
                    "restore needs fresh internal topics or a new group_id (see CHANGELOG)")
            entries.extend(d["e"])
            if d["b"] is not None:
                batches.append((d["b"], entries))
                entries = []
            self.seq = max(self.seq, seq)
            self.delta_bytes += len(v)
        if entries:
            raise ValueError(f"changelog delta {self.seq} ends a batch without its head")
        return states, meta, batches
