"""Stage one's durable state: each batch's changelog records, and restore by replay.

Stage one is deterministic given its input records and the clock it ran with, so a batch logs
what it ran with (``monitor.wire.statelog``): its wall clock, idle flag and watermark, the events
it accepted and, for those still waiting at its end, their source. When the log outgrows the
state, the same batch also writes a snapshot of the whole state. A restore reads the snapshot
and re-runs the batches logged after it with their outputs dropped, which rebuilds exactly the
state (and the timers) that the partition had.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from monitor.domain.events import Event
from monitor.domain.feedback import FEEDBACK
from monitor.stage1.ready import Ready
from monitor.wire.statelog import (
    LoggedBatch,
    batch_entries,
    decode_batch,
    interaction_from_json,
    interaction_to_json,
    pending_to_json,
)

if TYPE_CHECKING:
    from monitor.stage1.processor import PartitionProcessor


def batch_records(
    proc: PartitionProcessor, now_ms: int, idle: bool, fresh: list[Ready], kept: list[Ready],
    held_now: list[tuple[str, str]], surveys: list[Event],
) -> list[tuple[bytes, bytes | None]]:
    """Changelog records of one batch: what it ran with and the events it accepted, plus a
    snapshot of the whole state when the log has outgrown it.

    ``kept``: the batch's events that went to the reorder buffer; ``held_now``: (interaction
    id, event id) of events held for their ``opened`` in this batch; ``surveys``: its
    ``feedback`` events (measured at once, never waiting). Those of the batch's own events that
    still wait at its end are logged with their source."""
    waiting = {(r.interaction_id, r.event_id): r for r in kept}
    if held_now:  # rare: keep those of this batch that are still held
        batch = {(r.interaction_id, r.event_id): r for r in fresh}
        states = proc.states
        for iid, eid in held_now:
            r = batch.get((iid, eid))
            s = states.get(iid)
            if r is not None and s is not None and s.held and any(
                    h.event.event_id == eid for h in s.held):
                waiting[(iid, eid)] = r
    entries = batch_entries(fresh, (r.pending() for r in waiting.values()), surveys)
    records = proc.log.write([now_ms, idle, proc.max_ts], entries)
    if proc.log.wants_snapshot():  # streamed: only one chunk's lists exist at a time
        buffered: dict[str, list[list[Any]]] = {}
        for r in proc.buffer:
            buffered.setdefault(r.interaction_id, []).append(pending_to_json(r.pending()))
        state = ((iid, interaction_to_json(st, buffered.get(iid, ())))
                 for iid, st in proc.states.items())
        records += proc.log.snapshot(state, _meta(proc))
    return records


def _meta(proc: PartitionProcessor) -> dict[str, Any]:
    return {"max_ts": proc.max_ts, "first_ts": proc.first_ts, "next_snap_w": proc.backlog.next_w}


def restore(proc: PartitionProcessor, items: Iterable[tuple[bytes, bytes | None]]) -> None:
    """Rebuild ``proc`` (fresh) from its partition's changelog records: the snapshot, then the
    batches logged after it, re-run with their outputs dropped."""
    states, meta, batches = proc.log.restore(items)
    if meta is not None:
        proc.max_ts, proc.first_ts = meta["max_ts"], meta["first_ts"]
        proc.backlog.next_w = meta["next_snap_w"]
    waiting: list[Ready] = []
    for iid, d in states.items():
        s, buffered = interaction_from_json(iid, d)
        waiting += proc.adopt(iid, s, buffered)
    proc.buffer.add(waiting)
    proc.replaying = True
    try:
        for head, entries in batches:
            try:
                batch = decode_batch(head, entries)
            except ValueError as exc:
                raise ValueError(f"changelog of {proc.topic}-{proc.partition} holds {exc}") from None
            _replay(proc, batch)
    finally:
        proc.replaying = False


def _replay(proc: PartitionProcessor, b: LoggedBatch) -> None:
    """Run one logged batch again: its accepted events, then its watermark advance."""
    fresh: list[Ready] = []
    for e in b.accepted:
        if e.type == FEEDBACK:
            proc.accept_logged_survey(Event(e.event_id, e.interaction_id, e.channel, e.type, e.ts_ms))
            continue
        pend = b.waiting.get((e.interaction_id, e.event_id))
        offset, key, raw = (-1, None, None) if pend is None else (pend.offset, pend.key, pend.raw)
        event = Event(e.event_id, e.interaction_id, e.channel, e.type, e.ts_ms)
        fresh.append(proc.accept_logged(event, e.rank, offset, key, raw))
    proc.max_ts = b.max_ts_ms
    proc.advance(b.now_ms, b.idle, fresh)
