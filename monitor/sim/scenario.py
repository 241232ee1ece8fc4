"""Scenarios: what goes wrong during a generated run, and when (``parse_scenario``).

* ``steady``: the profiles as they are, all run long.
* ``degrade:<channel>``: healthy for the first quarter of the run (``duration_s`` from
  ``start_ms``), degraded as a step for the middle half, then recovered. Degraded, the channel's
  queue works 4x slower (``Slowdown``: contacts already waiting at the onset are delayed too, so
  the first responses after it are late at once), long abandons wait 4x longer and are twice as
  likely. Chat's service level falls from about 0.89 to about 0.3; its surveys follow (a chat
  contact closes ~15 minutes after it opened, so its answers lag the onset by about that).
* ``degrade:<channel>/<queue>``: the same for one declared queue of the channel only: the
  contacts answered (or abandoned) in that queue, the one they are in at that moment. The
  channel's other queues stay healthy, so the channel's roll-up can stay healthy while the
  queue breaches, which is what the drill-down below the channel is for (SPEC section 9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from monitor.config import ChannelConfig

DEGRADE_WAIT_FACTOR: Final = 4.0
DEGRADE_ABANDON_FACTOR: Final = 2.0
DEGRADE_FROM: Final = 0.25  # share of the run: a degraded channel is bad from here ...
DEGRADE_UNTIL: Final = 0.75  # ... to here, then recovers


class Slowdown(NamedTuple):
    """A channel's queue serving ``factor`` times slower in event time ``[from_ms, until_ms)``,
    with abandons ``abandon_factor`` times as likely among the contacts opened then."""

    from_ms: float
    until_ms: float
    factor: float
    abandon_factor: float

    def active(self, ts_ms: float) -> bool:
        return self.from_ms <= ts_ms < self.until_ms

    def wait_ms(self, opened_ms: float, healthy_ms: float) -> float:
        """The wait of a contact that a healthy queue answers after ``healthy_ms``: the queue's
        work runs ``factor`` times slower while degraded, for the contacts already waiting at
        the onset too, so the first responses after the onset are late at once (as when a
        team drops out), and the ones still waiting at the recovery speed up again."""
        t, left = opened_ms, healthy_ms
        if t < self.from_ms:
            step = min(left, self.from_ms - t)
            t, left = t + step, left - step
        if left > 0 and t < self.until_ms:
            step = min(left, (self.until_ms - t) / self.factor)
            t, left = t + step * self.factor, left - step
        return t + left - opened_ms


@dataclass(frozen=True, slots=True)
class Scenario:
    """``steady`` (``degrade is None``), or one channel (``queue``: one of its queues only)
    degraded in the middle of the run."""

    name: str
    degrade: str | None = None
    wait_factor: float = DEGRADE_WAIT_FACTOR
    abandon_factor: float = DEGRADE_ABANDON_FACTOR
    queue: str | None = None

    @property
    def target(self) -> str | None:
        """What is degraded, as written after ``degrade:`` (``chat`` or ``chat/billing``)."""
        if self.degrade is None:
            return None
        return self.degrade if self.queue is None else f"{self.degrade}/{self.queue}"

    def slowdown(self, channel: str, start_ms: float, duration_s: float,
                 queue: str | None = None) -> Slowdown | None:
        """The step from ``DEGRADE_FROM`` to ``DEGRADE_UNTIL`` of the run for the contacts of
        ``channel`` waiting in ``queue`` (None: a channel-wide scenario's, or whichever queue is
        degraded); a step, so the onset is a moment an alert's delay can be measured from."""
        if self.degrade != channel or (queue is not None and self.queue not in (None, queue)):
            return None
        span_ms = duration_s * 1000.0
        return Slowdown(start_ms + DEGRADE_FROM * span_ms, start_ms + DEGRADE_UNTIL * span_ms,
                        self.wait_factor, self.abandon_factor)

    def __str__(self) -> str:
        return self.name if self.target is None else f"{self.name}:{self.target}"


STEADY: Final = Scenario("steady")


def parse_scenario(s: str, channels: Sequence[str | ChannelConfig]) -> Scenario:
    """``steady``, ``degrade:<channel>`` with a configured channel, or ``degrade:<channel>/<queue>``
    with a queue the channel declares; ValueError otherwise. ``channels``: the configured
    channels (names alone know no queues)."""
    names = [c if isinstance(c, str) else c.name for c in channels]
    text = s.strip()
    kind, sep, arg = text.partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "steady" and not sep:
        return STEADY
    if kind == "degrade":
        channel, slash, queue = (part.strip() for part in arg.partition("/"))
        if not channel:
            raise ValueError(
                f"scenario {s!r}: name the channel to degrade, e.g. 'degrade:{_first(names)}'"
                f" (channels: {', '.join(names)})"
            )
        if channel not in names:
            raise ValueError(
                f"scenario {s!r}: unknown channel {channel!r}; configured channels: "
                f"{', '.join(names)}"
            )
        if not slash:
            return Scenario("degrade", channel)
        declared = _declared_queues(channels, channel)
        _check_queue(s, channel, queue, declared)
        return Scenario("degrade", channel, queue=queue)
    raise ValueError(
        f"unknown scenario {s!r}; expected 'steady', 'degrade:<channel>' or "
        f"'degrade:<channel>/<queue>' (channels: {', '.join(names)})"
    )


def _declared_queues(channels: Sequence[str | ChannelConfig], channel: str) -> tuple[str, ...]:
    for c in channels:
        if isinstance(c, ChannelConfig) and c.name == channel:
            return tuple(q.name for q in c.queues)
    return ()


def _check_queue(s: str, channel: str, queue: str, declared: Sequence[str]) -> None:
    """A queue scenario needs a queue the config declares: ``other`` and undeclared names have
    no targets of their own to breach, and a channel without queues has one queue only."""
    if not declared:
        raise ValueError(
            f"scenario {s!r}: channel {channel!r} declares no queues "
            f"([channels.{channel}.queues.<name>] in the config); use 'degrade:{channel}'"
        )
    if not queue:
        raise ValueError(
            f"scenario {s!r}: name the queue after the '/', e.g. 'degrade:{channel}/{declared[0]}'"
            f" (queues of {channel}: {', '.join(declared)})"
        )
    if queue not in declared:
        raise ValueError(
            f"scenario {s!r}: queue {queue!r} is not declared for channel {channel!r}; "
            f"configured queues of {channel}: {', '.join(declared)}"
        )


def _first(channels: Sequence[str]) -> str:
    return channels[0] if channels else "phone"
