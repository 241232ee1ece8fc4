"""Stage one's durable state: each batch's changelog records, and restore by replay.

Stage one is deterministic given its input records and the clock it ran with, so a batch logs
what it ran with (``monitor.state.statelog``): its wall clock, idle flag and watermark, the events
it accepted and, for those still waiting at its end, their source. When the log outgrows the
state, the same batch also writes a snapshot of the whole state. A restore
(``PartitionProcessor.restore``) reads the snapshot and re-runs the batches logged after it
with their outputs dropped, which rebuilds exactly the state (and the timers) that the
partition had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from monitor.domain.stream.lifecycle import Interaction
from monitor.domain.stream.ready import Ready
from monitor.state.changelog import ChangelogRecord
from monitor.state.statelog import (
    StateLog,
    batch_entries,
    interaction_to_json,
    pending_to_json,
)


def batch_records(
    log: StateLog, states: Mapping[str, Interaction], buffer: Iterable[Ready],
    meta: Callable[[], dict[str, Any]], head: list[Any], fresh: list[Ready], kept: list[Ready],
    held_now: list[tuple[str, str]],
) -> list[ChangelogRecord]:
    """Changelog records of one batch: what it ran with (``head``: its wall clock, idle flag
    and largest event time) and the events it accepted, plus a snapshot of the whole state
    (``states``, the reorder ``buffer`` and ``meta()``) when the log has outgrown it.

    ``kept``: the batch's events that went to the reorder buffer; ``held_now``: (interaction
    id, event id) of events held for their ``opened`` in this batch. Those of the batch's own
    events that still wait at its end are logged with their source (a survey's answers are
    read back from its raw record)."""
    waiting = {(r.interaction_id, r.event_id): r for r in kept}
    if held_now:  # rare: keep those of this batch that are still held
        batch = {(r.interaction_id, r.event_id): r for r in fresh}
        for iid, eid in held_now:
            r = batch.get((iid, eid))
            s = states.get(iid)
            if r is not None and s is not None and s.held and any(
                    h.event.event_id == eid for h in s.held):
                waiting[(iid, eid)] = r
    entries = batch_entries(fresh, (r.pending() for r in waiting.values()))
    records = log.write(head, entries)
    if log.wants_snapshot():  # streamed: only one chunk's lists exist at a time
        buffered: dict[str, list[list[Any]]] = {}
        for r in buffer:
            buffered.setdefault(r.interaction_id, []).append(pending_to_json(r.pending()))
        state = ((iid, interaction_to_json(st, buffered.get(iid, ())))
                 for iid, st in states.items())
        records += log.snapshot(state, meta())
    return records
