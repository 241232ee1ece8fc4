"""What one batch of one input partition produces (typed; ``monitor.contract`` encodes it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from monitor.domain.stream.events import DeadLetter
from monitor.domain.stream.queues import Queue
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import WindowAcc
from monitor.state.changelog import ChangelogRecord


@dataclass(frozen=True, slots=True)
class Forward:
    """A record in a partition that does not own its interaction, re-keyed for its owner."""

    partition: int
    key: bytes
    value: bytes | None


@dataclass(slots=True)
class BatchResult:
    #: per (queue, window start): stage two rolls a channel's queues up into its record
    partials: dict[tuple[Queue, int], WindowAcc] = field(default_factory=dict)
    deadletters: list[DeadLetter] = field(default_factory=list)
    #: changelog records (key, value or None for a tombstone), written by ``persist``
    changelog: list[ChangelogRecord] = field(default_factory=list)
    mark: Mark | None = None
    #: applied events by the queue the interaction is in after them, and type
    events: Counter[tuple[Queue, str]] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    duplicate: Counter[Queue] = field(default_factory=Counter)
    #: applied ``opened`` and ``transferred`` events that named an undeclared queue, by channel
    unlisted: Counter[str] = field(default_factory=Counter)
    first_response_ms: dict[Queue, list[int]] = field(default_factory=dict)
    resolution_ms: dict[Queue, list[int]] = field(default_factory=dict)
    consumed: int = 0
    forward: list[Forward] = field(default_factory=list)

    def empty(self) -> bool:
        """Nothing to write."""
        return not (self.partials or self.deadletters or self.changelog or self.mark
                    or self.forward)
