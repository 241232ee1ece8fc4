"""What the worker runs per assigned partition: a ``Stage``, one protocol for both stages.

The worker owns the Kafka side (consumer, transactional producer, changelog restore, offsets);
a stage owns what it computes from its partition's records and how its outputs and state are
written. The worker looks a stage up by the topic it reads and never branches on it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from monitor.domain.stream.indicators import Indicators
from monitor.state.changelog import Live


class Record(Protocol):
    """The part of a consumer record a stage reads."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Output:
    """One record to write; without ``partition`` it goes where a default producer puts ``key``."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One processed batch: its outputs, encoded when the task's sender writes them (in order,
    changelog records included), and what to count once they are written."""

    outputs: Callable[[], Iterable[Output]]
    written: Callable[[], None]


#: ``(channel, queue)`` of a per-queue value; queue ``""``: the channel's roll-up (SPEC 9)
Series = tuple[str, str]


@dataclass(slots=True)
class Gauges:
    """The worker's real-time gauges, summed over its stages (``Stage.snapshot``)."""

    waiting: dict[Series, int] = field(default_factory=dict)
    open: dict[Series, int] = field(default_factory=dict)
    #: event time of the oldest waiting contact per queue (None: none waiting)
    oldest_waiting_ts_ms: dict[Series, int | None] = field(default_factory=dict)
    #: the latest final window per queue and per channel (queue ``""``)
    latest: dict[Series, Indicators] = field(default_factory=dict)
    #: (channel, queue, indicator, severity) -> 1 firing, 0 not; queue ``""``: a channel alert
    alerts: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    held: int = 0
    interactions: int = 0
    watermarks_ms: list[int] = field(default_factory=list)


class Stage(Protocol):
    """One assigned partition's computation and durable state."""

    #: the ``stage`` label of the partition-level gauges (``interactions``, ``aggregate``)
    name: str
    #: the compacted topic that holds the stage's state, co-partitioned with its input
    changelog: str

    def written(self) -> Sequence[str]:
        """The topics besides its changelog partition that the stage writes to (any partition)."""
        ...

    def restore(self, live: Live) -> None:
        """Rebuild the state from the changelog partition's live records (fresh stage only)."""
        ...

    def process(self, records: Sequence[Record], now_ms: int, idle: bool) -> Batch | None:
        """Run one batch (possibly empty: the clock alone may release windows); None when there
        is nothing to write. ``idle``: the partition has been read to its end for a while."""
        ...

    def snapshot(self, gauges: Gauges, now_ms: int) -> None:
        """Add this partition's part of the real-time gauges."""
        ...

    @property
    def pending(self) -> int:
        """Events consumed but not yet applied (held or buffered): the accounting across
        restarts and rebalances counts them as restored or handed over."""
        ...
