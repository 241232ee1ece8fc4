"""Stage one of the worker: everything that happens per input partition.

Accepted events wait in a reorder buffer until the partition watermark is ``grace`` past them and
are then applied to their interaction in event-time order, so results do not depend on arrival
order within the grace. Each batch yields per-(channel, window) partial accumulators (combined
before they leave the partition), dead letters, changelog records (the batch's inputs, so that a
restore can re-run it; see ``statelog``) and a watermark mark. Pure: the adapter in
``monitor.worker`` moves the bytes.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.core.events import OPENED, TYPE_RANK, Event, Parser, Rejection, raw_text
from monitor.core.interaction import OPEN, Interaction, Measurement, Pending
from monitor.core.mincount import MinCount
from monitor.core.params import Params
from monitor.core.partitioning import partition_for
from monitor.core.reorder import ReorderBuffer
from monitor.core.statelog import StateLog
from monitor.core.timefmt import format_utc_ms
from monitor.core.window import COUNT_FIELDS, WindowAcc, window_start

_IDX = {name: i for i, name in enumerate(COUNT_FIELDS)}
_ANSWERED, _ANSWERED_IN_TARGET = _IDX["answered"], _IDX["answered_within_target"]
_ABANDONED, _SHORT_ABANDONED = _IDX["abandoned"], _IDX["short_abandoned"]
_RESOLVED, _RESOLVED_IN_TARGET = _IDX["resolved"], _IDX["resolved_within_target"]

#: (watermark ms or None for a partition without events, first event ts ms, idle)
Mark = tuple[int | None, int | None, bool]
IDLE_MARK_STEP_MS = 1000  # an idle partition's watermark follows the clock: report it each second
#: An accepted event on its way to be applied: (ts, lifecycle rank, event id, interaction id,
#: type, channel, event, offset, key, raw value, interaction state); sorted by its first four
#: fields. Its first six fields are also its entry in the changelog's batch log. The state rides
#: along to save a lookup when it is applied: it cannot be replaced while the event waits
#: (``Interaction.unapplied``).
Ready = tuple[int, int, str, str, str, str, Event, int, bytes | None, bytes | None, Interaction]


@dataclass(slots=True)
class BatchResult:
    """What one batch of one input partition produces."""

    partials: dict[tuple[str, int], WindowAcc] = field(default_factory=dict)
    deadletters: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    changelog: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    mark: Mark | None = None
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    duplicate: Counter[str] = field(default_factory=Counter)
    first_response_ms: dict[str, list[int]] = field(default_factory=dict)
    resolution_ms: dict[str, list[int]] = field(default_factory=dict)
    consumed: int = 0
    #: records in a partition that does not own their interaction: (owner partition, key, value)
    forward: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)


class PartitionProcessor:
    """State and logic of one input partition."""

    def __init__(
        self, params: Params, topic: str, partition: int, partitions: int | None = None
    ) -> None:
        """``partitions``: the input topic's partition count, to forward mis-keyed records
        to the partition that owns their interaction (None: trust every record's placement)."""
        self.p = params
        self.topic = topic
        self.partition = partition
        self.partitions = partitions
        self.states: dict[str, Interaction] = {}
        self.max_ts: int | None = None
        self.first_ts: int | None = None
        self.next_snap_w: int | None = None
        self.last_mark: Mark | None = None
        self.buffer = ReorderBuffer()  # of Ready: accepted events the watermark holds back
        self._orphans: list[tuple[int, str]] = []  # (expires at frontier ms, iid)
        self._purge: list[tuple[int, str]] = []  # (expires at frontier ms, iid)
        self.waiting: Counter[str] = Counter()
        self.open: Counter[str] = Counter()
        self.waiting_since: dict[str, MinCount] = {c: MinCount() for c in params.channels}
        self.pending = 0  # accepted events buffered or held, not yet applied
        self._changed = False  # state changed in this batch: the changelog must record it
        self._kept: list[Ready] = []  # events of this batch that went to the reorder buffer
        self._held_now: list[tuple[str, str]] = []  # (iid, event id) held in this batch
        self._out = BatchResult()
        self.log = StateLog()
        self._replaying = False  # restoring: batches are re-run, their outputs dropped
        self._parse = Parser(params.channels, params.max_future_skew_ms, params.max_event_bytes)

    # --- batch entry points -----------------------------------------------------------------

    def process(
        self,
        records: Iterable[tuple[int, bytes | None, bytes | None]],
        now_ms: int,
        idle: bool = False,
    ) -> BatchResult:
        """Validate and de-duplicate ``(offset, key, value)`` records, then advance the watermark.

        The per-record loop is the hottest code of the worker: it keeps what it needs in locals."""
        fresh: list[Ready] = []
        out, states = self._out, self.states
        parse = self._parse
        check_owner = self.partitions is not None
        max_ts = self.max_ts
        n = 0
        for offset, key, value in records:
            n += 1
            e = parse(value, now_ms)
            if type(e) is not Event:
                assert isinstance(e, Rejection)
                self._deadletter(e, offset, key, value, now_ms)
                continue
            iid = e.interaction_id
            if check_owner and key != iid.encode() and self._forward(iid, value):
                continue
            ts = e.ts_ms
            if max_ts is None or ts > max_ts:
                max_ts = ts
            s = states.get(iid)
            if s is None:
                s = states[iid] = Interaction(e.channel)
            eid = e.event_id
            if eid in s.seen:
                out.duplicate[e.channel] += 1
                continue
            s.seen += (eid,)
            s.unapplied += 1
            etype = e.type
            fresh.append((ts, TYPE_RANK[etype], eid, iid, etype, e.channel, e, offset, key, value, s))
        if max_ts != self.max_ts or fresh:
            self.max_ts = max_ts
            self._changed = True
        out.consumed += n
        return self.advance(now_ms, idle, fresh)

    def _forward(self, iid: str, value: bytes | None) -> bool:
        """Queue a record this partition does not own for its owner (True if forwarded)."""
        assert self.partitions is not None
        owner = partition_for(iid, self.partitions)
        if owner == self.partition:
            return False
        self._out.forward.append((owner, iid.encode(), value))
        return True

    def watermark(self, now_ms: int, idle: bool) -> int | None:
        """Largest event time seen; an idle partition counts as at least ``now - grace``."""
        if self.max_ts is None:
            return None
        if idle:
            return max(self.max_ts, now_ms - self.p.grace_ms)
        return self.max_ts

    def advance(self, now_ms: int, idle: bool, fresh: list[Ready] | None = None) -> BatchResult:
        """Release what the watermark allows, expire orphans and closed interactions, mark.

        ``fresh``: events accepted in this batch; those already behind the frontier skip the
        reorder buffer and are sorted in with the buffered ones that fell due."""
        wm = self.watermark(now_ms, idle)
        if wm is not None:
            # every event with ts <= wm - reorder is applied (ts < frontier); reorder <= grace
            # keeps every event of a window applied before stage two can call it final
            frontier = wm - self.p.reorder_ms + 1
            self._release_until(frontier, now_ms, fresh or [])
            # a window's backlog is recorded once its end is strictly before the frontier, the
            # same instant stage two may call it final (watermark > window end + grace)
            self._snapshots_until(frontier - 1)
            self._expire_orphans(frontier, now_ms)
            self._expire_closed(frontier)
        mark: Mark | None = None
        if wm is not None:
            mark = (wm, self.first_ts, idle)
        elif idle:
            mark = (None, None, True)  # caught up and never delivered an event
        out = self._out
        if mark is not None and mark != self.last_mark and not self._idle_step(mark):
            out.mark = mark
            self.last_mark = mark
        if self._changed:
            self._changed = False
            if not self._replaying:
                out.changelog = self._log_batch(now_ms, idle, fresh or [])
        self._kept = []
        self._held_now.clear()
        self._out = BatchResult()
        return out

    def _idle_step(self, mark: Mark) -> bool:
        """True when ``mark`` only moves an idle watermark by less than a second: not worth sending."""
        last = self.last_mark
        if last is None or not (mark[2] and last[2]) or mark[1] != last[1]:
            return False
        if mark[0] is None or last[0] is None:
            return mark[0] is None and last[0] is None
        return 0 <= mark[0] - last[0] < IDLE_MARK_STEP_MS

    # --- release and apply ------------------------------------------------------------------

    def _release_until(self, frontier: int, now_ms: int, fresh: list[Ready]) -> None:
        """Apply, in event-time order, every event before ``frontier``; buffer the rest."""
        ready = self.buffer.take_before(frontier)
        if ready:
            self.pending -= len(ready)
            self._changed = True
        if fresh:
            # (ts, rank, event id, interaction id) is unique (duplicates never get here), so
            # the tuples' own order is the apply order and sorting needs no key function
            fresh = sorted(fresh)
            cut = bisect_left(fresh, (frontier,))
            if cut < len(fresh):
                kept = fresh[cut:]
                self.pending += len(kept)
                self._kept = kept
                self.buffer.add(list(kept))  # the buffer sorts and merges its own lists
            ready += fresh[:cut]
        ready.sort()
        window_ms = self.p.window_ms
        for ts, _rank, _eid, iid, _type, _channel, e, offset, key, raw, s in ready:
            w = self.next_snap_w
            if w is not None and w + window_ms <= ts:
                self._snapshots_until(ts)
            s.unapplied -= 1
            self._apply(iid, s, e, offset, key, raw, now_ms)

    def _apply(self, iid: str, s: Interaction, e: Event, offset: int, key: bytes | None,
               raw: bytes | None, now_ms: int) -> None:
        if s.opened_ts is None and e.type != OPENED:
            s.hold(Pending(e, offset, key, raw))
            self.pending += 1
            self._held_now.append((iid, e.event_id))
            heapq.heappush(self._orphans, (e.ts_ms + self.p.orphan_timeout_ms, iid))
            return
        self._transition(iid, s, e, offset, key, raw, now_ms)
        if e.type == OPENED and s.held and s.opened_ts is not None:
            held, s.held = sorted(s.held, key=lambda h: h.event.order_key), ()
            self.pending -= len(held)
            for h in held:
                self._transition(iid, s, h.event, h.offset, h.key, h.raw, now_ms)

    def _transition(self, iid: str, s: Interaction, e: Event, offset: int, key: bytes | None,
                    raw: bytes | None, now_ms: int) -> None:
        was_open, was_waiting = s.is_open, s.is_waiting
        r = s.apply(e, self.p.reopen_window_ms)
        if isinstance(r, Rejection):
            self._deadletter(r, offset, key, raw, now_ms)
            return
        ch = s.channel
        out = self._out
        out.events[(ch, e.type)] += 1
        if self.first_ts is None or e.ts_ms < self.first_ts:
            if self.first_ts is None:
                self.next_snap_w = window_start(e.ts_ms, self.p.window_ms)
            self.first_ts = e.ts_ms
            self._changed = True
        if r is not None:
            self._measure(ch, r)
        self._track(ch, s, was_open, was_waiting)
        if r is not None and s.closed != OPEN:
            heapq.heappush(self._purge, (s.closed_ts + self.p.reopen_window_ms, iid))

    def _measure(self, ch: str, m: Measurement) -> None:
        out = self._out
        key = (ch, window_start(m.ts_ms, self.p.window_ms))
        acc = out.partials.get(key)
        if acc is None:
            acc = out.partials[key] = WindowAcc()
        acc.measured += 1
        n = acc.counts
        kind, value = m.kind, m.value_ms
        if kind == "answered":
            n[_ANSWERED] += 1
            if value <= self.p.channel_params[ch].first_response_target_ms:
                n[_ANSWERED_IN_TARGET] += 1
            acc.first_response.add(value)
            out.first_response_ms.setdefault(ch, []).append(value)
        elif kind == "abandoned":
            n[_ABANDONED if value > self.p.channel_params[ch].short_abandon_ms else _SHORT_ABANDONED] += 1
        elif kind == "resolved":
            n[_RESOLVED] += 1
            if value <= self.p.channel_params[ch].resolution_target_ms:
                n[_RESOLVED_IN_TARGET] += 1
            acc.resolution.add(value)
            out.resolution_ms.setdefault(ch, []).append(value)
        else:  # opened, failed, reopened
            n[_IDX[kind]] += 1

    def _track(self, ch: str, s: Interaction, was_open: bool, was_waiting: bool) -> None:
        """Keep the real-time backlog per channel in step with one interaction's change."""
        is_open, is_waiting = s.is_open, s.is_waiting
        if is_open != was_open:
            self.open[ch] += 1 if is_open else -1
        if is_waiting != was_waiting:
            assert s.opened_ts is not None
            if is_waiting:
                self.waiting[ch] += 1
                self.waiting_since[ch].add(s.opened_ts)
            else:
                self.waiting[ch] -= 1
                self.waiting_since[ch].remove(s.opened_ts)

    # --- snapshots and expiry ---------------------------------------------------------------

    def _snapshots_until(self, ts_ms: int) -> None:
        """Record the backlog as of each window end at or before ``ts_ms`` not yet recorded."""
        w = self.next_snap_w
        if w is None:
            return
        window_ms = self.p.window_ms
        while w + window_ms <= ts_ms:
            for ch in self.p.channels:
                if self.open[ch] or self.waiting[ch]:
                    key = (ch, w)
                    acc = self._out.partials.get(key)
                    if acc is None:
                        acc = self._out.partials[key] = WindowAcc()
                    acc.add_snapshot(self.waiting[ch], self.open[ch], self.waiting_since[ch].min())
            w += window_ms
        if w != self.next_snap_w:
            self.next_snap_w = w
            self._changed = True

    def _expire_orphans(self, frontier: int, now_ms: int) -> None:
        heap, timeout = self._orphans, self.p.orphan_timeout_ms
        while heap and heap[0][0] <= frontier:
            _, iid = heapq.heappop(heap)
            s = self.states.get(iid)
            if s is None or s.opened_ts is not None or not s.held:
                continue
            keep: list[Pending] = []
            for h in s.held:
                if h.event.ts_ms + timeout <= frontier:
                    detail = f"no opened for {iid[:64]!r} within {timeout // 1000} s"
                    self._deadletter(Rejection("orphan", detail), h.offset, h.key, h.raw, now_ms)
                    self.pending -= 1
                else:
                    keep.append(h)
            s.held = keep or ()
            self._changed = True
            if not s.held and not s.unapplied:
                del self.states[iid]

    def _expire_closed(self, frontier: int) -> None:
        heap, window = self._purge, self.p.reopen_window_ms
        deferred: list[tuple[int, str]] = []
        while heap and heap[0][0] < frontier:
            entry = heapq.heappop(heap)
            iid = entry[1]
            s = self.states.get(iid)
            if s is None or s.closed == OPEN or s.closed_ts + window >= frontier:
                continue
            if s.unapplied:  # an event still waits to be applied: look again next time
                deferred.append(entry)
                continue
            del self.states[iid]
            self._changed = True
        for entry in deferred:
            heapq.heappush(heap, entry)

    # --- dead letters -----------------------------------------------------------------------

    def _deadletter(
        self, r: Rejection, offset: int, key: bytes | None, raw: bytes | None, now_ms: int
    ) -> None:
        self._out.rejected[r.reason] += 1
        value = {
            "schema": "sqm.deadletter.v1",
            "reason": r.reason,
            "detail": r.detail,
            "source": {"topic": self.topic, "partition": self.partition, "offset": offset},
            "raw": raw_text(raw),
            "received_at": format_utc_ms(now_ms),
        }
        self._out.deadletters.append((key, orjson.dumps(value)))

    # --- persistence ------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {"max_ts": self.max_ts, "first_ts": self.first_ts, "next_snap_w": self.next_snap_w}

    def _log_batch(self, now_ms: int, idle: bool, fresh: list[Ready]) -> list[
            tuple[bytes, bytes | None]]:
        """Changelog records of this batch: what it ran with and the events it accepted (see
        ``statelog``), plus a snapshot of the whole state when the log has outgrown it.

        Each accepted event is logged by its fields, ``[ts, rank, event id, interaction id,
        type, channel]``; one still waiting at the end of the batch (buffered, or held for its
        ``opened``) also gets an ``[interaction id, pending]`` entry, ``pending`` as in a
        snapshot (``Pending.to_json``: with its offset, key and raw record)."""
        entries: list[Any] = [item[:6] for item in fresh]
        kept = {(item[3], item[2]): item for item in self._kept}
        if self._held_now:  # rare: keep those of this batch that are still held
            batch = {(item[3], item[2]): item for item in fresh}
            states = self.states
            for iid, eid in self._held_now:
                item = batch.get((iid, eid))
                s = states.get(iid)
                if item is not None and s is not None and s.held and any(
                        h.event.event_id == eid for h in s.held):
                    kept[(iid, eid)] = item
        entries += [(iid, _pending(item).to_json()) for (iid, _eid), item in kept.items()]
        records = self.log.write([now_ms, idle, self.max_ts], entries)
        if self.log.wants_snapshot():  # streamed: only one chunk's lists exist at a time
            buffered: dict[str, list[list[Any]]] = {}
            for item in self.buffer:
                buffered.setdefault(item[3], []).append(_pending(item).to_json())
            state = ((iid, st.to_json(buffered.get(iid, ()))) for iid, st in self.states.items())
            records += self.log.snapshot(state, self._meta())
        return records

    def restore(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Rebuild from this partition's changelog records: the snapshot, then the batches
        logged after it, re-run with their outputs dropped (see ``statelog``)."""
        states, meta, batches = self.log.restore(items)
        if meta is not None:
            self.max_ts, self.first_ts, self.next_snap_w = (
                meta["max_ts"], meta["first_ts"], meta["next_snap_w"],
            )
        waiting: list[Ready] = []
        for iid, d in states.items():
            s, buffered = Interaction.from_json(iid, d)
            self.states[iid] = s
            waiting += (_ready(iid, pend, s) for pend in buffered)
            for pend in s.held:
                heapq.heappush(self._orphans, (pend.event.ts_ms + self.p.orphan_timeout_ms, iid))
            self.pending += len(buffered) + len(s.held)
            if s.closed != OPEN:
                heapq.heappush(self._purge, (s.closed_ts + self.p.reopen_window_ms, iid))
            self._track(s.channel, s, False, False)
        self.buffer.add(waiting)
        self._replaying = True
        try:
            for (now_ms, idle, max_ts), entries in batches:
                self._replay(now_ms, idle, max_ts, entries)
        finally:
            self._replaying = False
            self._out = BatchResult()

    def _replay(self, now_ms: int, idle: bool, max_ts: int | None, entries: list[list[Any]]) -> None:
        """Run one logged batch again: its accepted events, then its watermark advance."""
        kept = {(iid, pend.event.event_id): pend for iid, pend in (
            (d[0], Pending.from_json(d[0], d[1])) for d in entries if len(d) == 2)}
        states = self.states
        fresh: list[Ready] = []
        for entry in entries:
            if len(entry) == 2:
                continue
            if len(entry) != 6:
                raise ValueError(
                    f"changelog of {self.topic}-{self.partition} holds a batch entry in the format "
                    "of an earlier release: start with a fresh group_id and internal topics")
            ts, rank, eid, iid, etype, ch = entry
            offset, key, raw = -1, None, None
            k = kept.get((iid, eid))
            if k is not None:
                offset, key, raw = k.offset, k.key, k.raw
            s = states.get(iid)
            if s is None:
                s = states[iid] = Interaction(ch)
            s.seen += (eid,)
            s.unapplied += 1
            e = Event(eid, iid, ch, etype, ts)
            fresh.append((ts, rank, eid, iid, etype, ch, e, offset, key, raw, s))
        self.max_ts = max_ts
        self.advance(now_ms, idle, fresh)


def _pending(item: Ready) -> Pending:
    """A waiting event in its changelog form."""
    return Pending(item[6], item[7], item[8], item[9])


def _ready(iid: str, pend: Pending, s: Interaction) -> Ready:
    e = pend.event
    return (e.ts_ms, TYPE_RANK[e.type], e.event_id, iid, e.type, e.channel, e, pend.offset, pend.key,
            pend.raw, s)
