"""An accepted event on its way to be applied to its interaction."""

from __future__ import annotations

import msgspec

from monitor.domain.stream.events import TYPE_RANK, Event
from monitor.domain.stream.lifecycle import Interaction, Pending


class Ready(msgspec.Struct, frozen=True, order=True, gc=False):
    """Sorted by its first four fields, which are unique (duplicates never get here), so the
    structs' own order is the apply order: event time, lifecycle rank, event id, interaction.
    ``offset``, ``key`` and ``raw`` say where it came from, for a dead letter or the changelog.
    ``state`` rides along to save a lookup when it is applied: it cannot be replaced while the
    event waits (``Interaction.unapplied``). A msgspec struct: built and compared in C."""

    ts_ms: int
    rank: int
    event_id: str
    interaction_id: str
    event: Event
    offset: int
    key: bytes | None
    raw: bytes | None
    state: Interaction

    def pending(self) -> Pending:
        return Pending(self.event, self.offset, self.key, self.raw)


def ready(pend: Pending, state: Interaction) -> Ready:
    e = pend.event
    return Ready(e.ts_ms, TYPE_RANK[e.type], e.event_id, e.interaction_id, e, pend.offset,
                 pend.key, pend.raw, state)
