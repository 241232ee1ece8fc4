"""Stage one of the worker: everything that happens per input partition.

Accepted events wait in a reorder buffer until the partition watermark is ``reorder`` past them
and are then applied to their interaction in event-time order, so results do not depend on
arrival order within the grace. Each batch yields per-(queue, window) partial accumulators
(combined before they leave the partition), dead letters, changelog records (the batch's inputs,
so that a restore can re-run it; see ``persist``) and a watermark mark. The parts: ``backlog``,
``expiry`` (orphans, closed interactions), ``measure``, ``persist``; the rules of time are in
``monitor.domain.stream.watermark``. The adapter in ``monitor.worker.loop`` moves the bytes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from monitor.contract.input import Parser
from monitor.contract.partitioner import partition_for
from monitor.domain.stream import watermark
from monitor.domain.stream.events import OPENED, TYPE_RANK, DeadLetter, Event, Rejection
from monitor.domain.stream.feedback import FEEDBACK
from monitor.domain.stream.lifecycle import OPEN, Interaction, Pending
from monitor.domain.stream.params import Params
from monitor.domain.stream.ready import Ready, ready
from monitor.domain.stream.reorder import ReorderBuffer
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import window_start
from monitor.stages.interactions import persist
from monitor.stages.interactions.backlog import Backlog
from monitor.stages.interactions.expiry import Orphans, Retention
from monitor.stages.interactions.measure import measure, measure_survey
from monitor.stages.interactions.outputs import BatchResult, Forward
from monitor.state.changelog import ChangelogRecord
from monitor.state.statelog import LoggedBatch, StateLog, decode_batch, interaction_from_json

_ts_ms = attrgetter("ts_ms")


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
        self.last_mark: Mark | None = None
        self.buffer = ReorderBuffer()  # of Ready: accepted events the watermark holds back
        self.backlog = Backlog(params.queues, params.window_ms)
        #: each channel's default queue: where an interaction is until its ``opened``
        self._default = {ch: cq.default for ch, cq in params.queues.items()}
        self.orphans = Orphans(params.orphan_timeout_ms)
        self.retention = Retention(params.reopen_window_ms)
        self.pending = 0  # accepted events buffered or held, not yet applied
        self.log = StateLog()
        self.replaying = False  # restoring: batches are re-run, their outputs dropped
        self._changed = False  # state changed in this batch: the changelog must record it
        self._kept: list[Ready] = []  # events of this batch that went to the reorder buffer
        self._held_now: list[tuple[str, str]] = []  # (iid, event id) held in this batch
        self._now_ms = 0  # the wall clock of the batch being run
        self._out = BatchResult()
        self._parse = Parser(params.queues, params.max_future_skew_ms, params.max_event_bytes,
                             params.max_event_age_ms)

    # --- batch entry points -----------------------------------------------------------------

    def process(
        self,
        records: Iterable[tuple[int, bytes | None, bytes | None]],
        now_ms: int,
        idle: bool = False,
    ) -> BatchResult:
        """Validate and de-duplicate ``(offset, key, value)`` records, then advance the watermark.

        The per-record loop is the hottest code of the worker: it keeps what it needs in locals."""
        self._now_ms = now_ms
        fresh: list[Ready] = []
        out, states = self._out, self.states
        parse, default = self._parse, self._default
        check_owner = self.partitions is not None
        max_ts = self.max_ts
        n = 0
        for offset, key, value in records:
            n += 1
            e = parse(value, now_ms)
            if type(e) is not Event:
                assert isinstance(e, Rejection)
                self._deadletter(e, offset, key, value)
                continue
            iid = e.interaction_id
            if check_owner and key != iid.encode() and self._forward(iid, value):
                continue
            ts = e.ts_ms
            if max_ts is None or ts > max_ts:
                max_ts = ts
            s = states.get(iid)
            if s is None:
                s = states[iid] = Interaction(default[e.channel])
            eid = e.event_id
            if eid in s.seen:
                out.duplicate[s.queue] += 1
                continue
            s.seen += (eid,)
            s.unapplied += 1
            fresh.append(Ready(ts, TYPE_RANK[e.type], eid, iid, e, offset, key, value, s))
        if max_ts != self.max_ts or fresh:
            self.max_ts = max_ts
            self._changed = True
        out.consumed += n
        return self.advance(now_ms, idle, fresh)

    def advance(self, now_ms: int, idle: bool, fresh: list[Ready] | None = None) -> BatchResult:
        """Release what the watermark allows, expire orphans and closed interactions, mark.

        ``fresh``: events accepted in this batch; those already behind the frontier skip the
        reorder buffer and are sorted in with the buffered ones that fell due."""
        self._now_ms = now_ms
        wm = watermark.partition_watermark(self.max_ts, now_ms, idle, self.p.grace_ms)
        if wm is not None:
            frontier = watermark.apply_frontier(wm, self.p.reorder_ms)
            self._release_until(frontier, fresh or [])
            if self.backlog.record_until(frontier - 1, self._out.partials):
                self._changed = True
            self._expire(frontier)
        mark: Mark | None = None
        if wm is not None:
            mark = Mark(self.partition, wm, self.first_ts, idle)
        elif idle:
            mark = Mark(self.partition, None, None, True)  # caught up, never delivered an event
        out = self._out
        if mark is not None and watermark.worth_sending(mark, self.last_mark):
            out.mark = mark
            self.last_mark = mark
        if self._changed:
            self._changed = False
            if not self.replaying:
                out.changelog = persist.batch_records(
                    self.log, self.states, self.buffer, self._meta, [now_ms, idle, self.max_ts],
                    fresh or [], self._kept, self._held_now)
        self._kept = []
        self._held_now.clear()
        self._out = BatchResult()
        return out

    def _forward(self, iid: str, value: bytes | None) -> bool:
        """Queue a record this partition does not own for its owner (True if forwarded)."""
        assert self.partitions is not None
        owner = partition_for(iid, self.partitions)
        if owner == self.partition:
            return False
        self._out.forward.append(Forward(owner, iid.encode(), value))
        return True

    # --- release and apply ------------------------------------------------------------------

    def _release_until(self, frontier: int, fresh: list[Ready]) -> None:
        """Apply, in event-time order, every event before ``frontier``; buffer the rest."""
        ready = self.buffer.take_before(frontier)
        taken = len(ready)
        if taken:
            self.pending -= taken
            self._changed = True
        if fresh:
            fresh = sorted(fresh)  # a copy: the batch log keeps the arrival order
            cut = bisect_left(fresh, frontier, key=_ts_ms)
            if cut < len(fresh):
                kept = fresh[cut:]
                self.pending += len(kept)
                self._kept = kept
                self.buffer.add(list(kept), presorted=True)  # the buffer merges its own lists
            ready += fresh[:cut]
        if taken:  # else ``ready`` is a slice of the sorted batch
            ready.sort()
        window_ms = self.p.window_ms
        backlog, partials = self.backlog, self._out.partials
        for r in ready:
            w = backlog.next_w
            if w is not None and w + window_ms <= r.ts_ms and backlog.record_until(r.ts_ms, partials):
                self._changed = True
            s = r.state
            s.unapplied -= 1
            etype = r.event.type
            if etype == FEEDBACK:
                self._survey(r)
            elif s.opened_ts is None and etype != OPENED:
                self._hold(r)
            else:
                self._apply(r)

    def _hold(self, r: Ready) -> None:
        """Keep an event of an interaction that has not opened until its ``opened`` comes."""
        r.state.hold(r.pending())
        self.pending += 1
        self._held_now.append((r.interaction_id, r.event_id))
        self.orphans.watch(r.interaction_id, r.ts_ms)

    def _apply(self, r: Ready) -> None:
        """Apply an event; an ``opened`` also applies what was held for it, in order."""
        iid, s, e = r.interaction_id, r.state, r.event
        self._transition(iid, s, e, r)
        if e.type == OPENED and s.held and s.opened_ts is not None:
            held, s.held = sorted(s.held, key=lambda h: h.event.order_key), ()
            self.pending -= len(held)
            for h in held:
                self._transition(iid, s, h.event, h)

    def _transition(self, iid: str, s: Interaction, e: Event, src: Ready | Pending) -> None:
        """One lifecycle step; ``src`` says where the event came from, for a dead letter."""
        was_open, was_waiting, before = s.is_open, s.is_waiting, s.queue
        m = s.apply(e, self.p.reopen_window_ms)
        if isinstance(m, Rejection):
            self._deadletter(m, src.offset, src.key, src.raw)
            return
        q = s.queue
        out = self._out
        out.events[(q, e.type)] += 1
        if e.unlisted:
            out.unlisted[q.channel] += 1
        if self.first_ts is None or e.ts_ms < self.first_ts or self.backlog.next_w is None:
            self._first_event(e.ts_ms, lifecycle=True)
        if m is not None:
            measure(out, q, m, self.p.window_ms)
        self.backlog.track(before, s, was_open, was_waiting)
        if m is not None and s.closed != OPEN:
            self.retention.watch(iid, s.closed_ts)

    def _first_event(self, ts_ms: int, lifecycle: bool) -> None:
        """The earliest event so far: the first window stage two emits follows it. Backlog
        snapshots start at the first lifecycle event applied (in event-time order); a survey,
        measured before the buffered events older than it are applied, must not start them."""
        if lifecycle and self.backlog.next_w is None:
            self.backlog.next_w = window_start(ts_ms, self.p.window_ms)
        if self.first_ts is None or ts_ms < self.first_ts:
            self.first_ts = ts_ms
        self._changed = True

    def _survey(self, r: Ready) -> None:
        """Measure a ``feedback`` event (SPEC 7.1), in event-time order like every event, in
        the queue its interaction is in at the survey's time (SPEC 9 is silent on surveys; a
        survey comes after its contact, so this is the contact's last queue). A survey needs no
        ``opened`` and changes no lifecycle: one whose interaction has not opened here counts in
        the channel's default queue. Its interaction's state keeps its id for de-duplication; a
        state that only surveys made is kept for ``reopen_window`` after the latest of them (its
        ``closed_ts``), then dropped."""
        iid, s, e = r.interaction_id, r.state, r.event
        if s.opened_ts is None and e.ts_ms > s.closed_ts:
            s.closed_ts = e.ts_ms
            self.retention.watch(iid, e.ts_ms)
        if self.first_ts is None or e.ts_ms < self.first_ts:
            self._first_event(e.ts_ms, lifecycle=False)
        q = s.queue if s.queue.channel == e.channel else self._default[e.channel]
        self._out.events[(q, FEEDBACK)] += 1
        if e.feedback is not None:  # None: a restore re-running a logged batch (outputs dropped)
            measure_survey(self._out, q, e, self.p.window_ms)

    def _expire(self, frontier: int) -> None:
        expired, changed = self.orphans.expire(frontier, self.states)
        timeout_s = self.orphans.timeout_ms // 1000
        for h in expired:
            iid = h.event.interaction_id
            rejection = Rejection("orphan", f"no opened for {iid[:64]!r} within {timeout_s} s")
            self._deadletter(rejection, h.offset, h.key, h.raw)
        self.pending -= len(expired)
        if self.retention.expire(frontier, self.states) or changed:
            self._changed = True

    def _deadletter(self, r: Rejection, offset: int, key: bytes | None, raw: bytes | None) -> None:
        """A dead letter of this partition, received at the batch's wall clock."""
        self._out.rejected[r.reason] += 1
        self._out.deadletters.append(DeadLetter(
            r.reason, r.detail, self.topic, self.partition, offset, key, raw, self._now_ms))

    # --- restore ----------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        """What a snapshot keeps besides the interactions and the reorder buffer."""
        return {"max_ts": self.max_ts, "first_ts": self.first_ts, "next_snap_w": self.backlog.next_w}

    def restore(self, items: Iterable[ChangelogRecord]) -> None:
        """Rebuild (fresh) from this partition's changelog records: the snapshot, then the
        batches logged after it, re-run with their outputs dropped (``persist``)."""
        states, meta, batches = self.log.restore(items)
        queues = self.p.queues
        if meta is not None:
            self.max_ts, self.first_ts = meta["max_ts"], meta["first_ts"]
            self.backlog.next_w = meta["next_snap_w"]
        waiting: list[Ready] = []
        for iid, d in states.items():
            s, buffered = interaction_from_json(iid, d, queues)
            waiting += self.adopt(iid, s, buffered)
        self.buffer.add(waiting)
        self.replaying = True
        try:
            for head, entries in batches:
                try:
                    batch = decode_batch(head, entries, queues)
                except ValueError as exc:
                    raise ValueError(f"changelog of {self.topic}-{self.partition} holds {exc}") from None
                self._replay(batch)
        finally:
            self.replaying = False

    def _replay(self, b: LoggedBatch) -> None:
        """Run one logged batch again: its accepted events, then its watermark advance. An event
        still waiting at the batch's end comes back whole from its source (a survey with its
        answers: it is measured after the restore)."""
        fresh: list[Ready] = []
        for e in b.accepted:
            pend = b.waiting.get((e.interaction_id, e.event_id))
            if pend is None:
                event = Event(e.event_id, e.interaction_id, e.channel, e.type, e.ts_ms, None,
                              e.queue, e.unlisted)
                fresh.append(self.accept_logged(event, e.rank, -1, None, None))
            else:
                fresh.append(self.accept_logged(pend.event, e.rank, pend.offset, pend.key,
                                                pend.raw))
        self.max_ts = b.max_ts_ms
        self.advance(b.now_ms, b.idle, fresh)

    def adopt(self, iid: str, s: Interaction, buffered: list[Pending]) -> list[Ready]:
        """Take one interaction's state from a snapshot; returns its buffered events."""
        self.states[iid] = s
        for pend in s.held:
            self.orphans.watch(iid, pend.event.ts_ms)
        self.pending += len(buffered) + len(s.held)
        if s.closed != OPEN or (s.opened_ts is None and s.closed_ts):
            self.retention.watch(iid, s.closed_ts)  # closed, or kept for its surveys
        self.backlog.track(s.queue, s, False, False)
        return [ready(pend, s) for pend in buffered]

    def accept_logged(self, e: Event, rank: int, offset: int, key: bytes | None,
                      raw: bytes | None) -> Ready:
        """An event as a logged batch accepted it (a restore re-runs the batch)."""
        iid = e.interaction_id
        s = self.states.get(iid)
        if s is None:
            s = self.states[iid] = Interaction(self._default[e.channel])
        s.seen += (e.event_id,)
        s.unapplied += 1
        return Ready(e.ts_ms, rank, e.event_id, iid, e, offset, key, raw, s)
